"""The launch use case: give a Pending:Wait instance its fixed-IP ENI and host name,
then complete the lifecycle action. Pure: it talks only to the ports.

The story of one launch: find the instance running; check it still waits; claim an ENI
(the injected ClaimStrategy); check its host name, if it has one, and tag the instance;
configure and verify the address (and host name) in the OS through SSM (InstanceSetup);
`decide()` CONTINUE or ABANDON; complete the action."""

from __future__ import annotations

from dataclasses import dataclass, field

from fixed_ip.claim import ClaimStrategy, SpreadClaim
from fixed_ip.decision import ABANDON, CONTINUE, WAIT, WAITING, decide, outcome_metrics
from fixed_ip.error_codes import definitive
from fixed_ip.errors import (
    BadHostNameTag,
    Definitive,
    FixedIpError,
    InstanceGone,
    InstanceNotReady,
    InvalidEvent,
    InvalidHostName,
    PoolExhausted,
)
from fixed_ip.hostname import validate_hostname
from fixed_ip.instance_setup import InstanceSetup
from fixed_ip.launch_run import ActionGone, Deps, LaunchOutcome, LaunchRun
from fixed_ip.models import Instance, LaunchRequest, PoolEni
from fixed_ip.ports import Observer
from fixed_ip.settings import Settings

__all__ = [
    "ABANDON",
    "CONTINUE",
    "Deps",
    "LaunchOutcome",
    "LaunchUseCase",
    "decide",
    "outcome_metrics",
]

# The claim a use case gets when its builder names none (the benchmark and tests swap it
# for the seed article's, to compare the two on the same path).
default_claim: type[ClaimStrategy] = SpreadClaim

# How long EC2 may not list a just-launched instance (eventual consistency).
NOT_FOUND_GRACE_SECONDS = 60


class LaunchUseCase:
    def __init__(self, deps: Deps, settings: Settings, claim: ClaimStrategy | None = None) -> None:
        self.deps = deps
        self.settings = settings
        self.claim = claim or default_claim()
        self.setup = InstanceSetup(settings)

    def run(self, req: LaunchRequest, *, deadline: float, observer: Observer) -> LaunchOutcome:
        """Do the launch work and complete the action. `deadline` is the monotonic time
        by which this invocation must have completed it. Raises InvalidEvent (nothing
        changed), Transient errors and the AWS errors worth retrying (fixed_ip.error_codes)
        after botocore's retries (Lambda retries the event; the retry resumes
        idempotently); a definitive AWS error ends the launch ABANDON at once."""
        run = LaunchRun(
            req=req,
            deadline=deadline,
            observer=observer,
            last_heartbeat=self.deps.clock.monotonic(),
            deps=self.deps,
            heartbeat_interval_seconds=self.settings.heartbeat_interval_seconds,
        )
        out = run.out
        failure: Definitive | None
        try:
            self._provision(run)
            failure = None
        except ActionGone as exc:
            out.reason, out.detail = exc.reason, exc.message
            return out
        except Definitive as exc:
            failure = exc
        except Exception as exc:
            # An AWS error no adapter translated: definitive ones (error_codes) end the
            # launch now; the others (throttling, 5xx, not an AWS error) are raised for
            # Lambda to retry.
            failure = definitive(exc)
            if failure is None:
                raise
        if failure is not None:
            out.reason, out.detail = failure.reason, failure.message
            out.aws_error = failure.context.get("aws_error")
        if isinstance(failure, PoolExhausted):
            return self._exhausted(run, failure)
        return self._complete(req, out, failure)

    def _exhausted(self, run: LaunchRun, failure: PoolExhausted) -> LaunchOutcome:
        """No free address in the AZ: wait (policy WAIT, within the bound) or ABANDON.

        Waiting completes nothing: the instance stays in Pending:Wait, and the queue of
        waiting instances is Auto Scaling's own list of them. A heartbeat now restarts
        the hook's timeout; the release path (right after it frees an ENI) and the
        sweeper (each pass, with a heartbeat) run this launch again for the instance."""
        req, out = run.req, run.out
        policy = req.on_exhausted or self.settings.on_pool_exhausted
        bound = self.settings.wait_for_address_seconds
        if out.launched_at is not None:
            out.waited_seconds = max(
                0.0, (self.deps.clock.utcnow() - out.launched_at).total_seconds()
            )
        result = decide(
            failure,
            self.settings.on_hostname_failure,
            on_exhausted=policy,
            waited_seconds=out.waited_seconds or 0.0,
            wait_bound_seconds=bound,
        )
        if result is not None:
            if policy == WAIT:
                out.detail = f"{out.detail}; waited {out.waited_seconds or 0:.0f}s, bound {bound}s"
            return self._complete(req, out, failure, result=result)
        out.reason = WAITING
        if not self.deps.lifecycle.heartbeat(
            group=req.group, hook=req.hook, token=req.token, instance_id=req.instance_id
        ):
            out.reason = ActionGone.reason
            return out
        run.observer.decision(
            WAITING,
            level="warning",
            az=out.az,
            pool=req.pool,
            waited_seconds=round(out.waited_seconds or 0.0),
            wait_bound_seconds=bound,
            detail=out.detail,
        )
        return out

    def refuse_misconfigured(
        self, *, instance_id: str, group: str, hook: str, token: str, failure: FixedIpError
    ) -> LaunchOutcome:
        """A real action of a managed hook that cannot be served as configured (its
        NotificationMetadata, or a group name that cannot name a pool): decided and
        completed now (invariant 3) instead of left to the hook's timeout."""
        out = LaunchOutcome(reason=failure.reason, detail=str(failure))
        req = _Action(instance_id=instance_id, group=group, hook=hook, token=token)
        return self._complete(req, out, failure)

    def _complete(
        self,
        req: LaunchRequest | _Action,
        out: LaunchOutcome,
        failure: FixedIpError | None,
        *,
        result: str | None = None,
    ) -> LaunchOutcome:
        out.result = result or decide(failure, self.settings.on_hostname_failure)
        out.completed = self.deps.lifecycle.complete(
            group=req.group,
            hook=req.hook,
            token=req.token,
            instance_id=req.instance_id,
            result=out.result,
        )
        return out

    def _provision(self, run: LaunchRun) -> None:
        req, out = run.req, run.out
        if req.to_warm_pool:
            # Into the warm pool, where it is stopped: no address yet. Leaving the pool
            # for the group brings a launch action of its own, which claims the ENI.
            out.reason = "warm_pool"
            run.observer.decision("warm_pool_skipped", reason="warm_pool")
            return
        instance = self._ready_instance(run)
        out.az, out.launched_at = instance.az, instance.launch_time
        waiting = self.deps.lifecycle.waiting_instances(req.group, instance.az)
        if req.instance_id not in waiting:
            # Not (or no longer) in Pending:Wait: a late duplicate of a finished action.
            # Nothing to do, and nothing must be attached to it.
            raise ActionGone(f"instance {req.instance_id} is not in Pending:Wait")
        eni = self.claim.claim(run, instance, waiting, self.settings, self._ready_instance)
        out.eni_id, out.ip = eni.eni_id, eni.ip
        host_name = self._host_name(run, eni)
        out.host_name = host_name
        self.setup.apply(run, eni, host_name)

    def _host_name(self, run: LaunchRun, eni: PoolEni) -> str | None:
        """The ENI's host name, checked, and on the instance's tags; None when the ENI
        has no host-name tag: the address is served and no host name is set."""
        tag_key = self.settings.hostname_tag_key
        if eni.host_name is None:
            run.observer.decision(
                "no_host_name",
                az=eni.az,
                eni_id=eni.eni_id,
                ip=eni.ip,
                reason=f"ENI has no {tag_key} tag: the address is served, no host name is set",
            )
            return None
        try:
            host_name = validate_hostname(eni.host_name)
        except InvalidHostName as exc:
            raise BadHostNameTag(f"ENI {eni.eni_id} has an invalid {tag_key} tag: {exc}") from exc
        self.deps.compute.tag_instance(run.req.instance_id, {tag_key: host_name, "Name": host_name})
        return host_name

    def _ready_instance(self, run: LaunchRun) -> Instance:
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


@dataclass(frozen=True)
class _Action:
    """The lifecycle action's identity, when no LaunchRequest can be built."""

    instance_id: str
    group: str
    hook: str
    token: str = field(repr=False)
