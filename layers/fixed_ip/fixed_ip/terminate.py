"""The terminate use case: give the pool ENI of a terminating instance back to the pool,
then complete the lifecycle action CONTINUE. Pure: it talks only to the ports."""

from __future__ import annotations

from dataclasses import dataclass, field

from fixed_ip.launch import CONTINUE, Deps
from fixed_ip.models import TerminateRequest
from fixed_ip.ports import Observer
from fixed_ip.settings import Settings


@dataclass
class TerminateOutcome:
    result: str = CONTINUE
    reason: str = "ok"
    completed: bool = False
    released: list[str] = field(default_factory=list)  # ENI ids now available
    pending: list[str] = field(default_factory=list)  # detached, not yet available
    ips: list[str] = field(default_factory=list)
    host_names: list[str] = field(default_factory=list)


class TerminateUseCase:
    def __init__(self, deps: Deps, settings: Settings) -> None:
        self.deps = deps
        self.settings = settings

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
            # available again (or deleted meanwhile: nothing left to wait for)
            done = [i for i in waiting if i not in current or current[i].free]
            out.released += done
            waiting = [i for i in waiting if i not in done]
            if not waiting or clock.monotonic() >= end:
                break
            clock.sleep(min(self.settings.command_poll_seconds, max(0.0, end - clock.monotonic())))
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
        return out
