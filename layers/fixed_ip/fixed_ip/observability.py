"""The Observer port on Powertools: structured JSON logs and EMF metrics.

One Observer per invocation. It carries the invocation's identity (instance, group,
hook, pool) so that every decision line has it without shared mutable logger state,
and it owns an `EphemeralMetrics` so concurrent invocations in one process (the local
simulation) never mix their metric sets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from fixed_ip.ports import Clock, Observer

NAMESPACE = "FixedIp"
SERVICE = "fixed-ip"
REDACTED = "***"


class PowertoolsObserver(Observer):
    def __init__(
        self,
        logger: Logger,
        *,
        namespace: str = NAMESPACE,
        service: str = SERVICE,
        secrets: Iterable[str] = (),
        sink: Callable[[str], None] = print,
    ) -> None:
        self.logger = logger
        self.metrics = EphemeralMetrics(namespace=namespace, service=service)
        self.base: dict[str, Any] = {}
        self._secrets = [s for s in secrets if s]
        self._sink = sink
        self._started = time.monotonic()

    def bind(self, **fields: Any) -> None:
        """Fields every later line carries (instance_id, group, hook, pool, ...)."""
        self.base.update({k: v for k, v in fields.items() if v is not None})

    def add_secret(self, secret: str) -> None:
        if secret:
            self._secrets.append(secret)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
        return value

    def decision(self, what: str, *, level: str = "info", **fields: Any) -> None:
        payload = {"decision": what, **self.base, **fields}
        payload = {k: self._clean(v) for k, v in payload.items() if v is not None}
        # stacklevel 3: "location" names the caller, not this method
        getattr(self.logger, level)(what, extra=payload, stacklevel=3)

    def metric(self, name: str, value: float = 1, unit: str = "Count") -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)

    def dimension(self, name: str, value: str) -> None:
        self.metrics.add_dimension(name=name, value=value)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

    def flush(self) -> None:
        """Write the invocation's EMF blob (one JSON line) to the sink."""
        if self.metrics.metric_set:
            self._sink(json.dumps(self.metrics.serialize_metric_set(), separators=(",", ":")))
            self.metrics.clear_metrics()


class SystemClock(Clock):
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
