"""The Observer port on Powertools: structured JSON logs and EMF metrics.

One Observer per invocation. It carries the invocation's identity (instance, group,
hook, pool) so that every decision line has it without shared mutable logger state,
and it owns an `EphemeralMetrics` so concurrent invocations in one process (the local
simulation) never mix their metric sets."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
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
        namespace: str | None = None,
        service: str | None = None,
        secrets: Iterable[str] = (),
        sink: Callable[[str], None] = print,
    ) -> None:
        self.logger = logger
        # The template sets both variables; the constants are the same values.
        namespace = namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE
        service = service or os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE
        self.namespace, self.service = namespace, service
        self.metrics = EphemeralMetrics(namespace=namespace, service=service)
        # Metrics with their own dimension sets (the sweeper's per pool and AZ figures):
        # one EMF blob per set.
        self._by_dimensions: dict[tuple[tuple[str, str], ...], EphemeralMetrics] = {}
        self.base: dict[str, Any] = {}
        self._secrets = [s for s in secrets if s]
        self._sink = sink

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

    def metric(
        self,
        name: str,
        value: float = 1,
        unit: str = "Count",
        dimensions: dict[str, str] | None = None,
    ) -> None:
        target = self.metrics
        if dimensions:
            key = tuple(sorted(dimensions.items()))
            target = self._by_dimensions.get(key)  # type: ignore[assignment]
            if target is None:
                target = EphemeralMetrics(namespace=self.namespace, service=self.service)
                for dim, dim_value in key:
                    target.add_dimension(name=dim, value=dim_value)
                self._by_dimensions[key] = target
        target.add_metric(name=name, unit=MetricUnit(unit), value=value)

    def dimension(self, name: str, value: str) -> None:
        self.metrics.add_dimension(name=name, value=value)

    def flush(self) -> None:
        """Write the invocation's EMF blobs (one JSON line per dimension set)."""
        for metrics in [self.metrics, *self._by_dimensions.values()]:
            if metrics.metric_set:
                self._sink(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")))
                metrics.clear_metrics()
        self._by_dimensions.clear()


class SystemClock(Clock):
    def monotonic(self) -> float:
        return time.monotonic()

    def utcnow(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
