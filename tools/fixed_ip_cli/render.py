"""Terminal output: tables (rendered by rich) and JSON on stdout; progress on stderr (a bar
on a terminal, one line per step otherwise)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

# Wide enough that rich never wraps or truncates a cell: output piped to a file or grep
# keeps one line per row, whatever the terminal's width.
_NO_WRAP_WIDTH = 10_000


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "") -> str:
    """Columns padded to their widest cell, two spaces apart; `None` shows as `-`."""
    grid = Table(box=None, pad_edge=False, padding=(0, 1))
    for title in head:
        grid.add_column(str(title), no_wrap=True)
    for row in rows:
        grid.add_row(*("-" if c is None else str(c) for c in row))
    buffer = io.StringIO()
    Console(file=buffer, width=_NO_WRAP_WIDTH, color_system=None, highlight=False).print(grid)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(indent + line for line in lines if line.strip())


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


Advance = Callable[[str], None]


class Progress:
    """Progress of long operations, on stderr so stdout stays parseable: a bar when stderr
    is a terminal, else one line per step (readable in CI logs); nothing when disabled."""

    def __init__(
        self, stream: TextIO | None = None, *, enabled: bool = True, bar: bool | None = None
    ) -> None:
        self.stream = stream
        self.enabled = enabled
        self._bar = bar  # None: a bar exactly when the stream is a terminal

    @property
    def _out(self) -> TextIO:
        return self.stream or sys.stderr

    @property
    def bar(self) -> bool:
        if self._bar is not None:
            return self._bar
        isatty = getattr(self._out, "isatty", None)
        return bool(isatty and isatty())

    def __call__(self, message: str) -> None:
        """One line of progress (what is being read, before the steps start)."""
        if self.enabled:
            print(message, file=self._out, flush=True)

    @contextlib.contextmanager
    def steps(self, total: int, description: str) -> Iterator[Advance]:
        """`advance(message)` once per step done; the bar, or the message as a line."""
        if not self.enabled:
            yield lambda _message: None
            return
        if not self.bar:
            yield self
            return
        console = Console(file=self._out, force_terminal=True)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with RichProgress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda _message: bar.advance(task)
