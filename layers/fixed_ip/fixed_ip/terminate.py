"""The terminate use case: give the pool ENI of a terminating instance back to the pool,
complete the lifecycle action CONTINUE, then hand the freed address to the instance of
the group that has waited longest for one in that AZ (policy WAIT), through the normal
launch path. Pure: it talks only to the ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fixed_ip.decision import WAITING, outcome_metrics
from fixed_ip.errors import InvalidEvent, Transient
from fixed_ip.launch import CONTINUE, Deps
from fixed_ip.models import PoolEni, TerminateRequest
from fixed_ip.ports import Observer
from fixed_ip.settings import Settings
from fixed_ip.waiting import WAIT, safe_launch_hook, waiting

if TYPE_CHECKING:
    from datetime import datetime

    from fixed_ip.launch import LaunchUseCase


def _left(eni: PoolEni, instance_id: str) -> bool:
    """The ENI no longer hangs on `instance_id`: free, or attached to another instance."""
    return eni.free or (eni.instance_id is not None and eni.instance_id != instance_id)


def _waited(now: datetime, launched_at: datetime | None) -> int | None:
    """Seconds since the instance launched (its wait in Pending:Wait began)."""
    return round((now - launched_at).total_seconds()) if launched_at else None


@dataclass
class TerminateOutcome:
    result: str = CONTINUE
    reason: str = "ok"
    completed: bool = False
    released: list[str] = field(default_factory=list)  # ENI ids now available
    pending: list[str] = field(default_factory=list)  # detached, not yet available
    ips: list[str] = field(default_factory=list)
    host_names: list[str] = field(default_factory=list)
    # (instance id, result) of the waiting instances the released ENIs were handed to;
    # result None: still waiting (someone else took the address first).
    served: list[tuple[str, str | None]] = field(default_factory=list)


class TerminateUseCase:
    def __init__(self, deps: Deps, settings: Settings, launch: LaunchUseCase | None = None) -> None:
        self.deps = deps
        self.settings = settings
        # The launch path that serves instances waiting for an address (None: nobody is
        # served here; the sweeper does it on its next pass).
        self.launch = launch

    def run(
        self, req: TerminateRequest, *, deadline: float, observer: Observer
    ) -> TerminateOutcome:
        """Detach every pool ENI of the instance, wait (bounded) until each is available,
        and complete CONTINUE: the instance is going away either way, and AWS detaches
        secondary interfaces at termination too, so a slow detach never blocks it."""
        compute, clock = self.deps.compute, self.deps.clock
        out = TerminateOutcome()
        # Never the primary interface, whatever its tags: EC2 refuses to detach it, and
        # it is not a pool address.
        enis = [
            e
            for e in compute.enis_of_instance(req.instance_id, tag_key=self.settings.pool_tag_key)
            if not e.primary
        ]
        by_id = {e.eni_id: e for e in enis}
        if not enis:
            out.reason = "no_pool_eni"
        for eni in enis:
            out.ips.append(eni.ip)
            out.host_names.append(eni.host_name or "")
            if eni.attachment_id:
                compute.detach(eni.attachment_id)
            observer.decision(
                "eni_detached", az=eni.az, eni_id=eni.eni_id, ip=eni.ip, host_name=eni.host_name
            )
        waiting = [e.eni_id for e in enis]
        end = min(clock.monotonic() + self.settings.release_wait_seconds, deadline)
        while waiting:
            current = {e.eni_id: e for e in compute.describe_enis(waiting)}
            # available again, deleted meanwhile, or already claimed by another instance
            # (a launch may take a released address within milliseconds): released.
            done = [i for i in waiting if i not in current or _left(current[i], req.instance_id)]
            out.released += done
            waiting = [i for i in waiting if i not in done]
            if not waiting or clock.monotonic() >= end:
                break
            clock.sleep(min(self.settings.command_poll_seconds, max(0.0, end - clock.monotonic())))
        released_at = clock.monotonic()
        out.pending = waiting
        if waiting:
            out.reason = "release_pending"
            observer.decision("eni_release_pending", level="warning", detail=", ".join(waiting))
        if out.released:
            observer.metric("Releases", len(out.released))
        out.completed = self.deps.lifecycle.complete(
            group=req.group,
            hook=req.hook,
            token=req.token,
            instance_id=req.instance_id,
            result=CONTINUE,
        )
        freed = [by_id[i] for i in out.released if i in by_id]
        if self.launch is not None and freed:
            self._serve_waiting(req, freed, deadline, observer, out, released_at)
        return out

    def _serve_waiting(
        self,
        req: TerminateRequest,
        freed: list[PoolEni],
        deadline: float,
        observer: Observer,
        out: TerminateOutcome,
        released_at: float,
    ) -> None:
        """Each freed ENI goes to the longest-waiting instance of the group in its AZ, if
        the group's launch hook names the ENI's pool and waits (policy WAIT). Runs after
        this action is completed: the instance that leaves is never held up by it."""
        assert self.launch is not None
        lifecycle = self.deps.lifecycle
        # Nobody waits in these AZs (the common case): no need to read the group's hooks.
        if not any(lifecycle.waiting_instances(req.group, az) for az in {e.az for e in freed}):
            return
        group = lifecycle.managed_group(req.group, self.settings.hook_prefix)
        hook = safe_launch_hook(group, self.settings) if group else None
        if group is None or hook is None or hook.policy != WAIT:
            return
        tag_key = self.settings.pool_tag_key
        mine = [e for e in freed if e.tags.get(tag_key) == hook.pool]
        for az in sorted({e.az for e in mine}):
            budget = sum(1 for e in mine if e.az == az)
            index = hook.metadata.device_index or self.settings.device_index
            for inst in waiting(self.deps.compute, group, az, index)[:budget]:
                launch_req = hook.request(self.settings, inst.instance_id)
                scoped = hook.observer_for(observer, inst.instance_id)
                try:
                    result = self.launch.run(launch_req, deadline=deadline, observer=scoped)
                except (Transient, InvalidEvent) as exc:
                    # The freed ENI may already be attached to it: the sweeper's next pass
                    # resumes this launch (idempotent) and completes it.
                    observer.decision(
                        "waiting_served_later",
                        level="warning",
                        instance_id=inst.instance_id,
                        az=az,
                        reason=exc.reason,
                        detail=str(exc),
                    )
                    return
                outcome_metrics(scoped, result)
                out.served.append((inst.instance_id, result.result))
                observer.decision(
                    "waiting_instance_served",
                    instance_id=inst.instance_id,
                    group=req.group,
                    pool=hook.pool,
                    az=result.az,
                    eni_id=result.eni_id,
                    ip=result.ip,
                    host_name=result.host_name,
                    result=result.result,
                    reason=result.reason,
                    completed=result.completed,
                    waited_seconds=_waited(self.deps.clock.utcnow(), result.launched_at),
                    # From this release to the waiting instance's completion.
                    release_to_continue_ms=round(
                        (self.deps.clock.monotonic() - released_at) * 1000
                    ),
                )
                if result.reason == WAITING:
                    break  # the address went to someone else first: the pool is full again
