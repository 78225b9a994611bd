"""Count the AWS API calls a piece of code makes, per service and operation, through
botocore's own client entry point (every boto3 client of the process is counted)."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

MUTATING_PREFIXES = ("Describe", "Get", "List")


class CallMeter:
    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, service: str, operation: str) -> None:
        with self._lock:
            self.calls[(service, operation)] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def by_operation(self) -> dict[str, int]:
        return {f"{s}:{op}": n for (s, op), n in sorted(self.calls.items())}

    def mutating(self) -> dict[str, int]:
        return {k: n for k, n in self.by_operation().items() if not _read_only(k)}


def _read_only(key: str) -> bool:
    return key.split(":", 1)[1].startswith(MUTATING_PREFIXES)


@contextlib.contextmanager
def metered() -> Iterator[CallMeter]:
    """Count calls made while the block runs (from any thread)."""
    meter = CallMeter()
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        meter.record(self.meta.service_model.service_name, operation_name)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield meter
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
