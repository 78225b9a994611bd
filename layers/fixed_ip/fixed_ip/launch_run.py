"""The state of one launch invocation, shared by the launch steps (claim, instance
setup): its request, deadline, observer and outcome, and the waiting that respects both
the invocation's deadline and the lifecycle hook's heartbeat."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fixed_ip.errors import Definitive, OutOfTime
from fixed_ip.models import LaunchRequest
from fixed_ip.ports import Clock, Compute, Lifecycle, Observer, RunCommand


@dataclass
class Deps:
    compute: Compute
    lifecycle: Lifecycle
    commands: RunCommand
    clock: Clock


@dataclass
class LaunchOutcome:
    """What happened, for the final log line, the metrics and the tests."""

    # CONTINUE | ABANDON | None: the action was not active, or waits for an address
    result: str | None = None
    reason: str = "ok"
    completed: bool = False  # False: AWS said the action was no longer active
    az: str | None = None
    eni_id: str | None = None
    ip: str | None = None
    host_name: str | None = None
    resumed: bool = False
    attach_attempts: int = 0
    conflicts: int = 0
    ssm_wait_seconds: float = 0.0
    detail: str | None = None
    aws_error: str | None = None  # the AWS error code of a definitive failure
    # When the instance launched (its Pending:Wait began): a wait for an address is
    # bounded from there.
    launched_at: datetime | None = None
    waited_seconds: float | None = None


class ActionGone(Definitive):
    """The action stopped being active while we waited (completed elsewhere or timed
    out): nothing left to complete."""

    reason = "action_not_active"


@dataclass
class LaunchRun:
    """One invocation's work on one lifecycle action (the use case object is shared)."""

    req: LaunchRequest
    deadline: float
    observer: Observer
    last_heartbeat: float
    deps: Deps
    heartbeat_interval_seconds: float
    out: LaunchOutcome = field(default_factory=LaunchOutcome)

    def sleep_within(self, pause: float) -> None:
        """Sleep `pause` if the invocation's deadline allows it, else not at all."""
        clock = self.deps.clock
        if clock.monotonic() + pause < self.deadline:
            clock.sleep(pause)

    def wait(self, seconds: float, budget_end: float, on_budget: Definitive) -> None:
        """Sleep one poll interval, recording heartbeats; raise `on_budget` when the
        configured budget is spent, OutOfTime when the invocation itself would end first
        (the retried event then resumes where this one stopped)."""
        clock, req = self.deps.clock, self.req
        now = clock.monotonic()
        if now >= budget_end:
            raise on_budget
        wake = min(now + seconds, budget_end)
        if wake > self.deadline:
            raise OutOfTime(
                f"invocation ends in {max(0.0, self.deadline - now):.0f}s; the retry resumes"
            )
        if now - self.last_heartbeat >= self.heartbeat_interval_seconds:
            self.last_heartbeat = now
            if not self.deps.lifecycle.heartbeat(
                group=req.group, hook=req.hook, token=req.token, instance_id=req.instance_id
            ):
                raise ActionGone(f"lifecycle action of {req.instance_id} ended while waiting")
        clock.sleep(wake - now)
