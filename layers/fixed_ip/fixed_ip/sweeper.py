"""The sweeper: what events miss, repaired on a schedule. Pure: it talks only to ports.

For each managed group (a group with a fixed-ip hook) and its pool:
1. finishes launch actions whose event was lost: instances in Pending:Wait for longer
   than a grace period go through the launch use case, completed by instance id (the
   token came with the lost event). The use case is idempotent, so a late controller run
   for the same instance is harmless;
2. gives back pool ENIs still attached to instances that are shutting down, terminated
   or gone, after a grace period; never from a running (or stopped) instance;
3. reports InService instances without a pool ENI (launched before the hook existed, or
   a CONTINUE chosen by policy);
4. computes free and in-use ENIs per pool and AZ against what the groups may need there:
   their maximum size, raised by the replacements' headroom, shared over their AZs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fixed_ip.errors import InvalidEvent, Transient
from fixed_ip.launch import Deps, LaunchUseCase, outcome_metrics
from fixed_ip.models import HookMetadata, Instance, LaunchRequest, ManagedGroup, PoolEni
from fixed_ip.ports import DimensionedObserver, Observer
from fixed_ip.settings import Settings

GONE_STATES = {"shutting-down", "terminated"}


@dataclass
class Capacity:
    pool: str
    az: str
    free: int
    in_use: int
    need: int

    @property
    def shortfall(self) -> int:
        return max(0, self.need - self.free - self.in_use)


@dataclass
class SweepReport:
    groups: int = 0
    lost_launches: list[tuple[str, str | None]] = field(default_factory=list)  # (id, result)
    released: list[str] = field(default_factory=list)  # ENI ids
    without_eni: list[str] = field(default_factory=list)  # instance ids
    capacity: list[Capacity] = field(default_factory=list)
    stopped_early: str | None = None
    lost_pools: set[str] = field(default_factory=set)  # pools lost launches claimed from


def az_share(max_size: int, azs: int, max_healthy_percent: int) -> int:
    """The most instances a group may run in one of its `azs` AZs: its maximum size,
    raised by the headroom replacements may take, spread evenly (rounded up)."""
    ceiling = math.ceil(max_size * max(100, max_healthy_percent) / 100)
    return math.ceil(ceiling / max(1, azs))


def az_need(group: ManagedGroup, default_max_healthy_percent: int) -> int:
    """`az_share` of the group, with its own MaxHealthyPercentage if it has one."""
    percent = group.max_healthy_percentage or default_max_healthy_percent
    return az_share(group.max_size, len(group.azs), percent)


class SweeperUseCase:
    def __init__(self, deps: Deps, settings: Settings, launch: LaunchUseCase) -> None:
        self.deps = deps
        self.settings = settings
        self.launch = launch

    def run(self, *, now: datetime, deadline: float, observer: Observer) -> SweepReport:
        report = SweepReport()
        compute = self.deps.compute
        pools: dict[str, list[PoolEni]] = {}
        need: dict[tuple[str, str], int] = defaultdict(int)
        for group in self.deps.lifecycle.managed_groups(self.settings.hook_prefix):
            hooks = group.launch_hooks()
            if not hooks:
                continue
            report.groups += 1
            try:
                metadata = HookMetadata.from_notification(hooks[0].metadata)
                pool = metadata.pool_for(group.name)
            except InvalidEvent as exc:
                observer.decision(
                    "group_skipped",
                    level="error",
                    group=group.name,
                    hook=hooks[0].name,
                    reason=exc.reason,
                    detail=str(exc),
                )
                continue
            if pool not in pools:
                pools[pool] = compute.list_pool(tag_key=self.settings.pool_tag_key, pool=pool)
            holders = {e.instance_id for e in pools[pool] if e.instance_id}
            for az in group.azs:
                need[(pool, az)] += az_need(group, self.settings.max_healthy_percent)
            for gi in group.instances:
                if gi.lifecycle_state == "InService" and gi.instance_id not in holders:
                    report.without_eni.append(gi.instance_id)
                    observer.metric("InstancesWithoutEni", dimensions={"Pool": pool})
                    observer.decision(
                        "instance_without_eni",
                        level="warning",
                        instance_id=gi.instance_id,
                        group=group.name,
                        pool=pool,
                        az=gi.az,
                    )
            if report.stopped_early is None:
                self._finish_lost_launches(
                    group, hooks[0].name, pool, metadata, now, deadline, observer, report
                )
        for pool, enis in pools.items():
            self._release_leaked(pool, enis, now, observer, report)
        for pool in sorted(report.lost_pools):
            # lost launches claimed ENIs during the pass: count what is there now
            pools[pool] = compute.list_pool(tag_key=self.settings.pool_tag_key, pool=pool)
        for (pool, az), needed in sorted(need.items()):
            in_az = [e for e in pools[pool] if e.az == az]
            free = sum(1 for e in in_az if e.free or e.eni_id in report.released)
            cap = Capacity(pool=pool, az=az, free=free, in_use=len(in_az) - free, need=needed)
            report.capacity.append(cap)
            dims = {"Pool": pool, "AZ": az}
            observer.metric("PoolFree", cap.free, dimensions=dims)
            observer.metric("PoolInUse", cap.in_use, dimensions=dims)
            observer.metric("PoolShortfall", cap.shortfall, dimensions=dims)
            observer.decision(
                "pool_capacity",
                level="warning" if cap.shortfall else "info",
                pool=pool,
                az=az,
                free=cap.free,
                in_use=cap.in_use,
                need=cap.need,
                shortfall=cap.shortfall,
            )
        return report

    def _finish_lost_launches(
        self,
        group: ManagedGroup,
        hook: str,
        pool: str,
        metadata: HookMetadata,
        now: datetime,
        deadline: float,
        observer: Observer,
        report: SweepReport,
    ) -> None:
        waiting = [i.instance_id for i in group.instances if i.lifecycle_state == "Pending:Wait"]
        if not waiting:
            return
        grace = timedelta(seconds=self.settings.lost_launch_grace_seconds)
        for inst in self.deps.compute.describe_instances(waiting):
            if inst.launch_time is None or now - inst.launch_time < grace:
                continue
            observer.decision(
                "lost_launch_found",
                instance_id=inst.instance_id,
                group=group.name,
                hook=hook,
                pool=pool,
                az=inst.az,
            )
            req = LaunchRequest(
                instance_id=inst.instance_id,
                group=group.name,
                hook=hook,
                token=None,
                pool=pool,
                device_index=metadata.device_index or self.settings.device_index,
            )
            # The launch's metrics as the launch function would emit them (by Pool).
            scoped = DimensionedObserver(observer, {"Pool": pool})
            try:
                out = self.launch.run(req, deadline=deadline, observer=scoped)
            except Transient as exc:
                # Out of time or contention: the next pass carries on from here.
                report.stopped_early = exc.reason
                observer.decision(
                    "sweep_stopped_early",
                    level="warning",
                    reason=exc.reason,
                    detail=str(exc),
                    instance_id=inst.instance_id,
                )
                return
            except InvalidEvent as exc:
                observer.decision(
                    "lost_launch_refused",
                    level="error",
                    reason=exc.reason,
                    detail=str(exc),
                    instance_id=inst.instance_id,
                )
                continue
            report.lost_launches.append((inst.instance_id, out.result))
            report.lost_pools.add(pool)
            outcome_metrics(scoped, out)
            observer.metric("LostLaunchesFinished", dimensions={"Pool": pool})
            observer.decision(
                "lost_launch_finished",
                instance_id=inst.instance_id,
                group=group.name,
                pool=pool,
                az=out.az,
                eni_id=out.eni_id,
                ip=out.ip,
                host_name=out.host_name,
                result=out.result,
                reason=out.reason,
                completed=out.completed,
            )

    def _release_leaked(
        self,
        pool: str,
        enis: list[PoolEni],
        now: datetime,
        observer: Observer,
        report: SweepReport,
    ) -> None:
        attached = sorted((e for e in enis if e.instance_id), key=lambda e: e.eni_id)
        if not attached:
            return
        holders = sorted({e.instance_id or "" for e in attached})
        known: dict[str, Instance] = {
            i.instance_id: i for i in self.deps.compute.describe_instances(holders)
        }
        grace = timedelta(seconds=self.settings.leak_grace_seconds)
        # Every attached ENI, not one per holder: a dead instance may hold two.
        for eni in attached:
            instance_id = eni.instance_id
            inst = known.get(instance_id or "")
            if inst is not None and inst.state not in GONE_STATES:
                continue  # never take an ENI from a running, pending or stopped instance
            if inst is not None and inst.state_changed_at and now - inst.state_changed_at < grace:
                continue  # EC2 may still be detaching it itself
            if inst is not None and inst.state == "shutting-down" and not inst.state_changed_at:
                continue  # no time to measure the grace by: wait until it is terminated
            if eni.attachment_id:
                self.deps.compute.detach(eni.attachment_id)
            report.released.append(eni.eni_id)
            observer.metric("LeakedEnisReleased", dimensions={"Pool": pool})
            observer.decision(
                "leaked_eni_released",
                level="warning",
                pool=pool,
                az=eni.az,
                eni_id=eni.eni_id,
                ip=eni.ip,
                host_name=eni.host_name,
                instance_id=instance_id,
                instance_state=inst.state if inst else "gone",
            )
