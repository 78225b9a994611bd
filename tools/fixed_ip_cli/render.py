"""Terminal output: aligned tables and JSON on stdout, progress lines on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "") -> str:
    """Columns padded to their widest cell; `None` shows as `-`."""
    cells = [[str(h) for h in head]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = [
        indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    return "\n".join(lines)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def since(value: datetime | None, now: datetime | None = None) -> str | None:
    """`2026-11-26 15:56 UTC (3h ago)` for a timestamp, None when unknown."""
    if value is None:
        return None
    when = value.astimezone(UTC)
    now = now or datetime.now(UTC)
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        ago = f"{seconds}s"
    elif seconds < 3600:
        ago = f"{seconds // 60}m"
    elif seconds < 86400:
        ago = f"{seconds // 3600}h"
    else:
        ago = f"{seconds // 86400}d"
    return f"{when:%Y-%m-%d %H:%M} UTC ({ago} ago)"


class Progress:
    """Progress lines for long operations, on stderr so stdout stays parseable."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            stream = self.stream or sys.stderr
            print(message, file=stream, flush=True)
