"""The launch use case: give a Pending:Wait instance its fixed-IP ENI and host name,
then complete the lifecycle action. Pure: it talks only to the ports.

Concurrency model (docs/design.md section 4, invariant 1). There is no lock service: AWS itself
arbitrates. Attaching an ENI that is in use fails with `InvalidNetworkInterface.InUse`,
so the attach *is* the claim on the ENI; attaching at a device index the instance already
uses fails with `InvalidParameterValue`, so the device index is the claim on the
instance. A duplicate event therefore can never give one instance two pool ENIs, and
two instances can never hold one ENI.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from fixed_ip.errors import (
    AgentNotOnline,
    AttachRefused,
    AttachRejected,
    BadHostNameTag,
    ClaimContention,
    CommandFailed,
    CommandTimedOut,
    Definitive,
    DeviceIndexOccupied,
    EniGone,
    EniInUse,
    HostnameStepFailure,
    InstanceGone,
    InstanceNotReady,
    InvalidEvent,
    InvalidHostName,
    OutOfTime,
    PoolExhausted,
    PoolNotInAz,
)
from fixed_ip.hostname import validate_hostname
from fixed_ip.models import GROUPS_TAG, Instance, LaunchRequest, PoolEni
from fixed_ip.ports import Clock, Compute, Lifecycle, Observer, RunCommand
from fixed_ip.settings import Settings

CONTINUE = "CONTINUE"
ABANDON = "ABANDON"

# Terminal GetCommandInvocation statuses (Pending, InProgress, Delayed, Cancelling go on).
COMMAND_DONE = {"Success", "Failed", "TimedOut", "Cancelled"}
# Bounds on the claim loop: each round re-reads the pool after a lost race.
MAX_CLAIM_ROUNDS = 12
BACKOFF_BASE_SECONDS = 0.05
# An attach refused with our device index seen free: most likely a duplicate attached
# there first and Describe* do not show it yet. Re-read after a pause; give up (ABANDON)
# only when AWS refuses again.
REFUSAL_PAUSE_SECONDS = 1.0
REFUSALS_BEFORE_GIVING_UP = 2
# How long EC2 may not list a just-launched instance (eventual consistency).
NOT_FOUND_GRACE_SECONDS = 60


@dataclass
class Deps:
    compute: Compute
    lifecycle: Lifecycle
    commands: RunCommand
    clock: Clock


@dataclass
class LaunchOutcome:
    """What happened, for the final log line, the metrics and the tests."""

    result: str | None = None  # CONTINUE | ABANDON | None when the action was not active
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


def outcome_metrics(observer: Observer, out: LaunchOutcome) -> None:
    """The metrics of a launch's end, whoever ran it (launch function or sweeper)."""
    if out.result == "CONTINUE":
        observer.metric("Continues")
    elif out.result == "ABANDON":
        observer.metric("Abandons")
    if out.reason == "pool_exhausted":
        observer.metric("PoolExhausted")
    if not out.completed:
        observer.metric("ActionsNotActive")


def decide(failure: Definitive | None, on_hostname_failure: str) -> str:
    """The one place where CONTINUE or ABANDON is chosen.

    No failure: CONTINUE. A failure to get the ENI or an invalid host name: ABANDON,
    always (the instance would run without its fixed IP). A failure while setting the
    OS host name: the operator's `OnHostnameFailure` policy (default ABANDON)."""
    if failure is None:
        return CONTINUE
    if isinstance(failure, HostnameStepFailure) and on_hostname_failure == CONTINUE:
        return CONTINUE
    return ABANDON


def spread_order(instance_id: str, waiting: list[str], free: list[PoolEni]) -> list[PoolEni]:
    """The order in which `instance_id` tries the free ENIs.

    Every concurrent launch in the AZ sees (nearly) the same waiting instances and free
    ENIs, so ranking both lists the same way lets each instance aim at a different ENI:
    the k-th waiting instance (by id) takes the k-th free ENI (by IP). The seed's
    "everyone takes the lowest IP" made all but one launch collide. The rest of the list
    is in rendezvous-hash order, different per instance, for the rare lost race."""
    by_ip = sorted(free, key=lambda e: (e.ip_key, e.eni_id))
    ranked = sorted(set(waiting) | {instance_id})
    rank = ranked.index(instance_id)

    def weight(eni: PoolEni) -> bytes:
        return hashlib.blake2b(f"{instance_id}/{eni.eni_id}".encode(), digest_size=8).digest()

    first = [by_ip[rank]] if rank < len(by_ip) else []
    rest = sorted((e for e in by_ip if e not in first), key=weight)
    return first + rest


class LaunchUseCase:
    def __init__(self, deps: Deps, settings: Settings) -> None:
        self.deps = deps
        self.settings = settings

    # -- entry point ------------------------------------------------------------------

    def run(self, req: LaunchRequest, *, deadline: float, observer: Observer) -> LaunchOutcome:
        """Do the launch work and complete the action. `deadline` is the monotonic time
        by which this invocation must have completed it. Raises InvalidEvent (nothing
        changed), Transient errors and AWS errors after botocore's retries (Lambda
        retries the event; the retry resumes idempotently)."""
        run = _Run(
            req=req,
            deadline=deadline,
            observer=observer,
            last_heartbeat=self.deps.clock.monotonic(),
        )
        out = run.out
        failure: Definitive | None = None
        try:
            self._provision(run)
        except _ActionGone as exc:
            out.reason, out.detail = exc.reason, exc.message
            return out
        except Definitive as exc:
            failure = exc
            out.reason, out.detail = exc.reason, exc.message
        out.result = decide(failure, self.settings.on_hostname_failure)
        out.completed = self.deps.lifecycle.complete(
            group=req.group,
            hook=req.hook,
            token=req.token,
            instance_id=req.instance_id,
            result=out.result,
        )
        return out

    # -- steps ------------------------------------------------------------------------

    def _provision(self, run: _Run) -> None:
        req, out = run.req, run.out
        if req.to_warm_pool:
            # Into the warm pool, where it is stopped: no address yet. Leaving the pool
            # for the group brings a launch action of its own, which claims the ENI.
            out.reason = "warm_pool"
            run.observer.decision("warm_pool_skipped", reason="warm_pool")
            return
        instance = self._ready_instance(run)
        out.az = instance.az
        waiting = self.deps.lifecycle.waiting_instances(req.group, instance.az)
        if req.instance_id not in waiting:
            # Not (or no longer) in Pending:Wait: a late duplicate of a finished action.
            # Nothing to do, and nothing must be attached to it.
            raise _ActionGone(f"instance {req.instance_id} is not in Pending:Wait")
        eni = self._claim(run, instance, waiting)
        out.eni_id, out.ip = eni.eni_id, eni.ip
        try:
            host_name = validate_hostname(eni.host_name)
        except InvalidHostName as exc:
            raise BadHostNameTag(
                f"ENI {eni.eni_id} has an invalid {self.settings.hostname_tag_key} tag: {exc}"
            ) from exc
        out.host_name = host_name
        self.deps.compute.tag_instance(
            req.instance_id, {self.settings.hostname_tag_key: host_name, "Name": host_name}
        )
        self._set_os_hostname(run, host_name)

    def _ready_instance(self, run: _Run) -> Instance:
        """The instance, once EC2 shows it running. Right after launch EC2 may not list
        it yet (eventual consistency) or still show it pending, when it refuses an
        attach: wait, within the invocation, or let the retried event carry on."""
        req, clock = run.req, self.deps.clock
        while True:
            instance = self.deps.compute.describe_instance(req.instance_id)
            if instance is not None and instance.gone:
                raise InstanceGone(f"instance {req.instance_id} is {instance.state}")
            if instance is not None and instance.group != req.group:
                # Invariant 5: never touch an instance outside the group named by the event.
                raise InvalidEvent(
                    f"instance {req.instance_id} belongs to group {instance.group!r}, "
                    f"not {req.group!r} named by the event"
                )
            if instance is not None and instance.state != "pending":
                return instance
            if instance is None:
                age = (clock.utcnow() - req.event_time).total_seconds() if req.event_time else 1e9
                if age > NOT_FOUND_GRACE_SECONDS:
                    raise InstanceGone(f"instance {req.instance_id} is unknown to EC2")
            if clock.monotonic() + self.settings.agent_poll_seconds > run.deadline:
                raise InstanceNotReady(f"instance {req.instance_id} is not running yet")
            clock.sleep(self.settings.agent_poll_seconds)

    def _claim(self, run: _Run, instance: Instance, waiting: list[str]) -> PoolEni:
        """Return the pool ENI this instance holds, attaching one if it holds none."""
        compute, observer, req, out = self.deps.compute, run.observer, run.req, run.out
        refusals = 0
        for round_no in range(MAX_CLAIM_ROUNDS):
            if round_no:
                self._backoff(run, round_no)
                waiting = self.deps.lifecycle.waiting_instances(req.group, instance.az)
            enis = compute.list_pool_enis(
                tag_key=self.settings.pool_tag_key,
                pool=req.pool,
                az=instance.az,
                vpc_id=instance.vpc_id or "",
            )
            if not enis:
                raise PoolNotInAz(
                    f"pool {req.pool!r} has no ENI in {instance.az} (VPC {instance.vpc_id}): "
                    f"tag ENIs with {self.settings.pool_tag_key}={req.pool} in that AZ"
                )
            mine = sorted(
                (e for e in enis if e.instance_id == req.instance_id),
                key=lambda e: e.device_index or 0,
            )
            occupant = instance.interface_at(req.device_index)
            if not mine and occupant is not None:
                # A pool ENI at our index that the pool listing does not show as ours yet
                # (Describe* calls are eventually consistent): a duplicate attached it.
                mine = [e for e in enis if e.eni_id == occupant.eni_id]
                if not mine:
                    raise DeviceIndexOccupied(
                        f"device index {req.device_index} of {req.instance_id} holds "
                        f"{occupant.eni_id}, which is not in pool {req.pool!r}"
                    )
            if mine:
                out.resumed = out.attach_attempts == 0
                if out.resumed:
                    observer.decision(
                        "eni_already_held", az=instance.az, eni_id=mine[0].eni_id, ip=mine[0].ip
                    )
                return mine[0]
            if refusals >= REFUSALS_BEFORE_GIVING_UP:
                # Refused again although re-reads, a pause apart, show the index free and
                # nothing held: not a race, and retrying will not change AWS's answer.
                raise AttachRefused(
                    f"AWS refused to attach a pool ENI to {req.instance_id} at device index "
                    f"{req.device_index} (InvalidParameterValue) with the index free"
                )
            free = self._usable(run, (e for e in enis if e.free), first=round_no == 0)
            if not free:
                in_use = sum(1 for e in enis if not e.free)
                raise PoolExhausted(
                    f"pool {req.pool!r} has no free ENI in {instance.az} "
                    f"({in_use} of {len(enis)} in use or unusable)"
                )
            holders = {e.instance_id for e in enis if e.instance_id}
            rivals = [i for i in waiting if i not in holders]
            eni = spread_order(req.instance_id, rivals, free)[0]
            out.attach_attempts += 1
            try:
                compute.attach(
                    eni_id=eni.eni_id, instance_id=req.instance_id, device_index=req.device_index
                )
            except (EniInUse, EniGone) as exc:
                # Lost the race for this ENI (or it vanished): re-read and aim again.
                self._conflict(run, instance, eni, exc.reason)
                continue
            except AttachRejected as exc:
                # Most likely a duplicate delivery attached at our device index first:
                # re-read the instance and the pool; the next round resumes from it.
                # A re-read right away may not show that attachment yet: pause first.
                self._conflict(run, instance, eni, exc.reason)
                self._sleep_within(run, REFUSAL_PAUSE_SECONDS)
                instance = compute.describe_instance(req.instance_id) or instance
                refusals += 1
                continue
            except InstanceNotReady:
                # Still pending after all: wait until it runs, then aim again.
                instance = self._ready_instance(run)
                continue
            observer.metric("Claims")
            observer.decision(
                "eni_claimed",
                az=instance.az,
                eni_id=eni.eni_id,
                ip=eni.ip,
                host_name=eni.host_name,
                attach_attempts=out.attach_attempts,
            )
            return eni
        raise ClaimContention(
            f"no ENI claimed after {MAX_CLAIM_ROUNDS} rounds of lost races in {instance.az}; "
            "the retried event tries again"
        )

    def _conflict(self, run: _Run, instance: Instance, eni: PoolEni, reason: str) -> None:
        run.out.conflicts += 1
        run.observer.metric("ClaimConflicts")
        run.observer.decision(
            "claim_conflict", az=instance.az, eni_id=eni.eni_id, ip=eni.ip, reason=reason
        )

    def _backoff(self, run: _Run, round_no: int) -> None:
        """A short pause before re-reading after a lost race, growing per round and
        different per instance (so rivals do not re-read in lockstep), within the
        deadline: attach calls come from EC2's small mutation budget (5/s refill)."""
        jitter = hashlib.blake2b(f"{run.req.instance_id}/{round_no}".encode(), digest_size=2)
        cap = min(2.0, BACKOFF_BASE_SECONDS * 2**round_no)
        self._sleep_within(run, cap * (0.5 + int.from_bytes(jitter.digest()) / 131070))

    def _sleep_within(self, run: _Run, pause: float) -> None:
        if self.deps.clock.monotonic() + pause < run.deadline:
            self.deps.clock.sleep(pause)

    def _usable(self, run: _Run, candidates: Iterable[PoolEni], *, first: bool) -> list[PoolEni]:
        """Free ENIs whose host-name tag is valid and that admit the group; the others are
        refused, each with a log line, so one bad tag cannot reach an instance or block
        the pool."""
        usable = []
        for eni in candidates:
            if not eni.admits(run.req.group):
                if first:
                    self._refuse(
                        run,
                        eni,
                        "group_not_allowed",
                        f"{GROUPS_TAG}={eni.tags.get(GROUPS_TAG)!r} does not admit group "
                        f"{run.req.group!r}",
                    )
                continue
            try:
                validate_hostname(eni.host_name)
            except InvalidHostName as exc:
                if first:  # later rounds: refused (and counted) already
                    run.observer.metric("InvalidHostNames")
                    self._refuse(run, eni, "invalid_host_name", str(exc))
                continue
            usable.append(eni)
        return usable

    @staticmethod
    def _refuse(run: _Run, eni: PoolEni, reason: str, detail: str) -> None:
        run.observer.decision(
            "eni_refused",
            level="warning",
            az=eni.az,
            eni_id=eni.eni_id,
            ip=eni.ip,
            reason=reason,
            detail=detail,
        )

    def _set_os_hostname(self, run: _Run, host_name: str) -> None:
        req, out = run.req, run.out
        clock, commands = self.deps.clock, self.deps.commands
        start = clock.monotonic()
        budget_end = start + self.settings.ssm_wait_seconds
        command_id = None
        while command_id is None:
            if commands.agent_online(req.instance_id):
                try:
                    command_id = commands.send_set_hostname(
                        req.instance_id, host_name, self.settings.command_timeout_seconds
                    )
                    break
                except AgentNotOnline:
                    pass  # registered but not yet accepting commands: keep waiting
                except InvalidHostName as exc:
                    raise BadHostNameTag(f"the SSM document refused the host name: {exc}") from exc
            self._wait(
                run,
                self.settings.agent_poll_seconds,
                budget_end,
                AgentNotOnline(
                    f"SSM agent of {req.instance_id} not Online within "
                    f"{self.settings.ssm_wait_seconds}s"
                ),
            )
        out.ssm_wait_seconds = round(clock.monotonic() - start, 3)
        run.observer.metric("SsmWaitSeconds", out.ssm_wait_seconds, "Seconds")

        command_end = clock.monotonic() + self.settings.command_timeout_seconds
        while True:
            status = commands.command_status(command_id, req.instance_id)
            if status == "Success":
                run.observer.decision(
                    "hostname_set",
                    az=out.az,
                    eni_id=out.eni_id,
                    ip=out.ip,
                    host_name=host_name,
                    command_id=command_id,
                )
                return
            if status == "TimedOut":
                raise CommandTimedOut(f"command {command_id} timed out on {req.instance_id}")
            if status in COMMAND_DONE:
                raise CommandFailed(f"command {command_id} ended {status} on {req.instance_id}")
            self._wait(
                run,
                self.settings.command_poll_seconds,
                command_end,
                CommandTimedOut(
                    f"command {command_id} still {status} after "
                    f"{self.settings.command_timeout_seconds}s"
                ),
            )

    def _wait(self, run: _Run, seconds: float, budget_end: float, on_budget: Definitive) -> None:
        """Sleep one poll interval, recording heartbeats; raise `on_budget` when the
        configured budget is spent, OutOfTime when the invocation itself would end first
        (the retried event then resumes where this one stopped)."""
        clock, req = self.deps.clock, run.req
        now = clock.monotonic()
        if now >= budget_end:
            raise on_budget
        wake = min(now + seconds, budget_end)
        if wake > run.deadline:
            raise OutOfTime(
                f"invocation ends in {max(0.0, run.deadline - now):.0f}s; the retry resumes"
            )
        if now - run.last_heartbeat >= self.settings.heartbeat_interval_seconds:
            run.last_heartbeat = now
            if not self.deps.lifecycle.heartbeat(
                group=req.group, hook=req.hook, token=req.token, instance_id=req.instance_id
            ):
                raise _ActionGone(
                    f"lifecycle action of {req.instance_id} ended while waiting on SSM"
                )
        clock.sleep(wake - now)


@dataclass
class _Run:
    """The state of one invocation (the use case object itself is shared)."""

    req: LaunchRequest
    deadline: float
    observer: Observer
    last_heartbeat: float
    out: LaunchOutcome = field(default_factory=LaunchOutcome)


class _ActionGone(Definitive):
    """The action stopped being active while we waited (completed elsewhere or timed
    out): nothing left to complete."""

    reason = "action_not_active"
