"""From a raw event to a completed lifecycle action: validation, the use case, and the
final decision line and metrics. The Lambda handler is only the composition root."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from fixed_ip.decision import CONTINUE, WAITING, outcome_metrics
from fixed_ip.error_codes import exception_fields
from fixed_ip.errors import ConfigurationError, InvalidEvent, InvalidMetadata, Transient
from fixed_ip.inputs import launch_request, terminate_request
from fixed_ip.launch import LaunchOutcome, LaunchUseCase
from fixed_ip.models import LifecycleEvent, parse_lifecycle_event
from fixed_ip.ports import Clock, Observer
from fixed_ip.settings import Settings
from fixed_ip.sweeper import SweeperUseCase
from fixed_ip.terminate import TerminateUseCase

REFUSED = "REFUSED"


class _Controller:
    """Holds a use case, the settings and the clock; computes the invocation's deadline."""

    def __init__(self, use_case: Any, settings: Settings, clock: Clock) -> None:
        self.use_case = use_case
        self.settings = settings
        self.clock = clock

    def deadline(self, started: float, remaining_ms: int) -> float:
        """When the use case must be done: the Lambda deadline less a reserve to finish."""
        return started + remaining_ms / 1000 - self.settings.deadline_reserve_seconds


class LaunchController(_Controller):
    use_case: LaunchUseCase

    def handle(self, event: object, observer: Observer, remaining_ms: int) -> dict[str, Any]:
        started = self.clock.monotonic()
        try:
            parsed = parse_lifecycle_event(event)
            req = launch_request(parsed, self.settings)
        except InvalidMetadata as exc:
            return self._misconfigured(parsed, exc, observer, started)
        except InvalidEvent as exc:
            return refuse(observer, exc)
        observer.add_secret(req.token or "")
        observer.bind(instance_id=req.instance_id, group=req.group, hook=req.hook, pool=req.pool)
        observer.dimension("Pool", req.pool)
        deadline = self.deadline(started, remaining_ms)
        try:
            with _retried_errors(observer):
                out = self.use_case.run(req, deadline=deadline, observer=observer)
        except InvalidEvent as exc:
            return refuse(observer, exc)
        return self._report(observer, out, started)

    def _misconfigured(
        self, event: LifecycleEvent, exc: InvalidMetadata, observer: Observer, started: float
    ) -> dict[str, Any]:
        """A real action of a managed hook that cannot be served as configured: the use
        case decides (ABANDON) and completes it now."""
        detail = event.detail
        observer.add_secret(detail.LifecycleActionToken)
        observer.bind(
            instance_id=detail.EC2InstanceId,
            group=detail.AutoScalingGroupName,
            hook=detail.LifecycleHookName,
        )
        # The pool is unreadable: the group's name (the default pool) stands in, so that
        # the Abandons alarm, which reads metrics by Pool, sees these abandons too.
        observer.dimension("Pool", detail.AutoScalingGroupName)
        with _retried_errors(observer):
            out = self.use_case.refuse_misconfigured(
                instance_id=detail.EC2InstanceId,
                group=detail.AutoScalingGroupName,
                hook=detail.LifecycleHookName,
                token=detail.LifecycleActionToken,
                failure=exc,
            )
        return self._report(observer, out, started)

    def _report(self, observer: Observer, out: LaunchOutcome, started: float) -> dict[str, Any]:
        outcome_metrics(observer, out)
        fields = {
            "result": out.result,
            "reason": out.reason,
            "detail": out.detail,
            "aws_error": out.aws_error,
            "az": out.az,
            "eni_id": out.eni_id,
            "ip": out.ip,
            "host_name": out.host_name,
            "resumed": out.resumed,
            "attach_attempts": out.attach_attempts,
            "conflicts": out.conflicts,
            "ssm_wait_seconds": out.ssm_wait_seconds,
        }
        if out.reason == WAITING:
            # Not completed on purpose: the instance waits in Pending:Wait for an address.
            fields["waited_seconds"] = round(out.waited_seconds or 0.0)
            return _final(
                observer, started, self.clock, False, "warning", fields, "lifecycle_waiting"
            )
        if out.reason == "invalid_metadata":
            level = "error"  # the operator must fix the hook
        elif out.result == CONTINUE and out.reason == "ok":
            level = "info"
        else:
            level = "warning"
        return _final(observer, started, self.clock, out.completed, level, fields)


@contextmanager
def _retried_errors(observer: Observer) -> Iterator[None]:
    """Errors Lambda retries: one line and a metric each, then re-raised."""
    try:
        yield
    except (InvalidEvent, ConfigurationError):
        raise
    except Transient as exc:
        observer.metric("Retries")
        observer.decision("retry_later", level="warning", reason=exc.reason, detail=str(exc))
        raise
    except Exception as exc:
        # Type, message, AWS code and stack: readable in CloudWatch (issue 11 item 8).
        observer.metric("Errors")
        observer.decision(
            "error", level="error", reason=type(exc).__name__, **exception_fields(exc)
        )
        raise


class TerminateController(_Controller):
    use_case: TerminateUseCase

    def handle(self, event: object, observer: Observer, remaining_ms: int) -> dict[str, Any]:
        started = self.clock.monotonic()
        try:
            req = terminate_request(parse_lifecycle_event(event), self.settings)
        except InvalidEvent as exc:
            return refuse(observer, exc)
        observer.add_secret(req.token)
        observer.bind(instance_id=req.instance_id, group=req.group, hook=req.hook)
        deadline = self.deadline(started, remaining_ms)
        with _retried_errors(observer):
            out = self.use_case.run(req, deadline=deadline, observer=observer)
        if not out.completed:
            observer.metric("ActionsNotActive")
        fields = {
            "result": out.result,
            "reason": out.reason,
            "eni_id": ",".join(out.released + out.pending) or None,
            "ip": ",".join(out.ips) or None,
            "host_name": ",".join(out.host_names) or None,
        }
        level = "info" if not out.pending else "warning"
        return _final(observer, started, self.clock, out.completed, level, fields)


def _final(
    observer: Observer,
    started: float,
    clock: Clock,
    completed: bool,
    level: str,
    fields: dict[str, Any],
    what: str | None = None,
) -> dict[str, Any]:
    """The invocation's final decision line (built once, for every function that
    completes an action) and the handler's return value."""
    what = what or ("lifecycle_completed" if completed else "lifecycle_not_active")
    fields = {**fields, "duration_ms": int((clock.monotonic() - started) * 1000)}
    observer.decision(what, level=level, **fields)
    return {"decision": what, **{k: v for k, v in fields.items() if v is not None}}


class SweeperController(_Controller):
    use_case: SweeperUseCase

    def handle(self, event: object, observer: Observer, remaining_ms: int) -> dict[str, Any]:
        """A scheduled pass; the event's content is not used."""
        started = self.clock.monotonic()
        deadline = self.deadline(started, remaining_ms)
        with _retried_errors(observer):
            now = self.clock.utcnow()
            report = self.use_case.run(now=now, deadline=deadline, observer=observer)
        summary = {
            "groups": report.groups,
            "lost_launches_finished": len(report.lost_launches),
            "leaked_enis_released": len(report.released),
            "instances_without_eni": len(report.without_eni),
            "waiting_for_address": len(report.waiting),
            "held_outside_group": len(report.outside),
            "shortfall": sum(c.shortfall for c in report.capacity),
            "duplicate_host_names": len(report.duplicate_host_names),
            "sweep_errors": len(report.errors),
            "stopped_early": report.stopped_early,
            "duration_ms": int((self.clock.monotonic() - started) * 1000),
        }
        observer.decision("sweep_completed", **summary)
        return {"decision": "sweep_completed", **summary}


def refuse(observer: Observer, exc: InvalidEvent | ConfigurationError) -> dict[str, Any]:
    """Bad input: one clear line, a metric, no AWS change, no retry."""
    observer.metric("InvalidEvents" if isinstance(exc, InvalidEvent) else "ConfigErrors")
    observer.decision("event_refused", level="error", reason=exc.reason, detail=str(exc))
    return {
        "decision": "event_refused",
        "result": REFUSED,
        "reason": exc.reason,
        "detail": str(exc),
    }


class Handles(Protocol):
    def handle(self, event: object, observer: Observer, remaining_ms: int) -> dict[str, Any]: ...


def run_invocation(
    event: object,
    remaining_ms: int,
    observer: Observer,
    controller: Callable[[], Handles],
) -> dict[str, Any]:
    """One invocation: build (or reuse) the controller, handle, flush metrics. A
    configuration error is logged clearly and raised: the operator must fix the stack,
    and the hook's DefaultResult (ABANDON) ends the action if nobody does."""
    try:
        try:
            handler = controller()
        except ConfigurationError as exc:
            observer.metric("ConfigErrors")
            observer.decision(
                "bad_configuration", level="error", reason=exc.reason, detail=str(exc)
            )
            raise
        return handler.handle(event, observer, remaining_ms)
    finally:
        observer.flush()
