"""The seed article's claim, as a ClaimStrategy, for the benchmark and the tests that
compare it with the controller's: list the available pool ENIs of the AZ, take the
lowest IP, attach; any failure is final (the article's script shuts the instance down
and Auto Scaling replaces it; here the action is ABANDONed, with the same effect)."""

from __future__ import annotations

from fixed_ip.claim import ClaimStrategy, ReadyInstance
from fixed_ip.errors import AttachRejected, ClaimFailure, EniGone, EniInUse
from fixed_ip.launch_run import LaunchRun
from fixed_ip.models import Instance, PoolEni
from fixed_ip.settings import Settings


class LostRace(ClaimFailure):
    reason = "lost_race"


class NoFreeEni(ClaimFailure):
    """The article's script shuts the instance down when it finds no free ENI: it never
    waits for one (an ABANDON whatever the controller's exhaustion policy)."""

    reason = "pool_exhausted"


class SeedClaim(ClaimStrategy):
    def __init__(self, pause_seconds: float = 0.0) -> None:
        # The article's script lists and attaches with two AWS CLI processes, about a
        # second apart; the benchmark runs it without that pause (the same path as the
        # controller's), tests that need the lost race for certain give it one.
        self.pause_seconds = pause_seconds

    def claim(
        self,
        run: LaunchRun,
        instance: Instance,
        waiting: list[str],
        settings: Settings,
        ready: ReadyInstance,
    ) -> PoolEni:
        compute = run.deps.compute
        enis = compute.list_pool_enis(
            tag_key=settings.pool_tag_key,
            pool=run.req.pool,
            az=instance.az,
            vpc_id=instance.vpc_id or "",
        )
        free = sorted((e for e in enis if e.free), key=lambda e: (e.ip_key, e.eni_id))
        if not free:
            raise NoFreeEni(f"no available ENI in {instance.az}: shutdown")
        if self.pause_seconds:
            run.deps.clock.sleep(self.pause_seconds)
        run.out.attach_attempts += 1
        try:
            compute.attach(
                eni_id=free[0].eni_id,
                instance_id=run.req.instance_id,
                device_index=run.req.device_index,
            )
        except (EniInUse, EniGone, AttachRejected) as exc:
            raise LostRace(f"lost the race for {free[0].ip}: shutdown") from exc
        return free[0]
