"""The sweeper: what events miss, repaired on a schedule. Pure: it talks only to ports.

For each managed group (a group with a fixed-ip hook, matching ManagedGroupPattern) and
its pool:
1. finishes launch actions whose event was lost: instances in Pending:Wait (or
   Warmed:Pending:Wait, on their way into a warm pool) for longer than a grace period go
   through the launch use case, completed by instance id (the token came with the lost
   event). The use case is idempotent, so a late controller run for the same instance is
   harmless. It serves the instances waiting for an address (policy WAIT) the same way,
   longest-waiting first, and records a heartbeat for the others so that the hook never
   times out within the wait's bound (sweep_launches.py);
2. gives back pool ENIs still attached to instances that are shutting down, terminated
   or gone, after a grace period; never from a running (or stopped) instance (leaks.py);
3. reports InService instances without a pool ENI, live instances of a pool sharing a
   host name, and pool ENIs held by live instances outside every managed group
   (sweep_reports.py); Standby and stopped instances of a group keep theirs silently;
4. computes usable, in-use and needed addresses per pool, group and AZ (capacity.py),
   and the instances waiting for an address.

One bad group, instance, pool or ENI never stops the pass: each failure is logged with
its error, counted (SweepErrors), and the rest of the pass (leaked ENIs, capacity
metrics) still happens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fixed_ip import capacity, sweep_reports
from fixed_ip.errors import InvalidEvent
from fixed_ip.launch import Deps, LaunchUseCase
from fixed_ip.leaks import release_leaked
from fixed_ip.models import ManagedGroup, PoolEni
from fixed_ip.ports import Observer
from fixed_ip.settings import Settings
from fixed_ip.sweep_launches import SweepLaunches
from fixed_ip.sweep_state import SweepPass, SweepReport
from fixed_ip.waiting import launch_hook_of

__all__ = ["SweepReport", "SweeperUseCase"]

# Group members whose host name counts: they serve (or are about to). Terminating and
# warm-pool instances are left out (a warm instance holds no address).
LIVE_LIFECYCLE = {"Pending:Wait", "Pending:Proceed", "InService", "Standby"}
LIVE_EC2 = {"pending", "running"}


class SweeperUseCase:
    def __init__(self, deps: Deps, settings: Settings, launch: LaunchUseCase) -> None:
        self.deps = deps
        self.settings = settings
        self.launches = SweepLaunches(deps, settings, launch)

    def run(self, *, now: datetime, deadline: float, observer: Observer) -> SweepReport:
        sweep = SweepPass(now=now, deadline=deadline, observer=observer)
        # Without the list of groups nothing can be done: that error fails the pass.
        for group in self.deps.lifecycle.managed_groups(self.settings.hook_prefix):
            if not self.settings.manages(group.name):
                # Another stack's group (or nobody's): not ours to repair or count.
                observer.decision(
                    "group_not_managed",
                    level="debug",
                    group=group.name,
                    detail=f"outside ManagedGroupPattern {self.settings.managed_group_pattern!r}",
                )
                continue
            self._guarded(sweep, "group", self._sweep_group, sweep, group, group=group.name)
        self._guarded(sweep, "holders", self._describe_holders, sweep)
        for pool, enis in sweep.pools.items():
            self._guarded(sweep, "leaked_enis", self._release, sweep, pool, enis, pool=pool)
        # After the release: a leaked address goes first to an instance waiting for one.
        for group, hook, demand in sweep.launch_work:
            if sweep.report.stopped_early is None:
                self._guarded(
                    sweep,
                    "launches",
                    self.launches.run,
                    sweep,
                    group,
                    hook,
                    demand.vpc_ids,
                    group=group.name,
                )
        self._guarded(
            sweep,
            "outside",
            sweep_reports.held_outside,
            sweep,
            sweep.described,
            self.settings.lost_launch_grace_seconds,
        )
        for pool in sorted(sweep.pools):
            self._guarded(
                sweep, "host_names", sweep_reports.duplicate_host_names, sweep, pool, pool=pool
            )
        self._publish_capacity(sweep)
        return sweep.report

    @staticmethod
    def _guarded(
        sweep: SweepPass, step: str, fn: Callable[..., None], *args: Any, **ids: Any
    ) -> None:
        """Run one step of the pass; a failure is logged, counted, and the pass goes on."""
        try:
            fn(*args)
        except Exception as exc:
            sweep.failed(step, exc, **ids)

    def _sweep_group(self, sweep: SweepPass, group: ManagedGroup) -> None:
        """One group: its pool, its demand, its instances without an ENI, its members'
        host names; its lost or waiting launches run later in the pass."""
        if not group.launch_hooks():
            return
        report, observer = sweep.report, sweep.observer
        report.groups += 1
        sweep.member_ids.update(gi.instance_id for gi in group.instances)
        try:
            hook = launch_hook_of(group, self.settings)
        except InvalidEvent as exc:
            observer.decision(
                "group_skipped",
                level="error",
                group=group.name,
                hook=group.launch_hooks()[0].name,
                reason=exc.reason,
                detail=str(exc),
            )
            return
        assert hook is not None  # the group has launch hooks
        pool = hook.pool
        if pool not in sweep.pools:
            sweep.pools[pool] = self.deps.compute.list_pool(
                tag_key=self.settings.pool_tag_key, pool=pool
            )
        vpcs = self.deps.compute.subnet_vpcs(list(group.subnet_ids)) if group.subnet_ids else {}
        demand = capacity.demand(group, pool, self.settings.max_healthy_percent, vpcs)
        sweep.demands.append(demand)
        sweep_reports.without_eni(sweep, group, pool)
        ids = [i.instance_id for i in group.instances]
        if ids:
            sweep.described.update(
                (i.instance_id, i) for i in self.deps.compute.describe_instances(ids)
            )
        for gi in group.instances:
            inst = sweep.described.get(gi.instance_id)
            if inst is not None and gi.lifecycle_state in LIVE_LIFECYCLE and inst.state in LIVE_EC2:
                sweep.members[pool].append((group.name, inst))
        sweep.launch_work.append((group, hook, demand))

    def _describe_holders(self, sweep: SweepPass) -> None:
        """The pools' holders that no group listed (gone, detached), described once for
        the leak and the outside checks."""
        holders = {e.instance_id for es in sweep.pools.values() for e in es if e.held}
        missing = sorted(i for i in holders if i and i not in sweep.described)
        if missing:
            sweep.described.update(
                (i.instance_id, i) for i in self.deps.compute.describe_instances(missing)
            )

    def _release(self, sweep: SweepPass, pool: str, enis: list[PoolEni]) -> None:
        released = release_leaked(
            self.deps.compute, self.settings, pool, enis, sweep.now, sweep.observer,
            on_error=lambda exc, **ids: sweep.failed("leaked_eni", exc, **ids),
            known=sweep.described,
        )  # fmt: skip
        sweep.report.released += released

    def _publish_capacity(self, sweep: SweepPass) -> None:
        report, observer = sweep.report, sweep.observer
        for pool in sorted(report.lost_pools):
            # lost launches claimed ENIs during the pass: count what is there now
            self._guarded(sweep, "capacity", self._reread, sweep, pool, pool=pool)
        freed = set(report.released)
        for d in sweep.demands:
            rows = capacity.by_group(sweep.pools[d.pool], d, freed)
            report.group_capacity += rows
            for row in rows:
                if row.shortfall:
                    observer.decision(
                        "group_capacity",
                        level="warning",
                        pool=row.pool,
                        group=row.group,
                        az=row.az,
                        free=row.free,
                        in_use=row.in_use,
                        need=row.need,
                        shortfall=row.shortfall,
                    )
        for cap in capacity.by_pool(sweep.pools, sweep.demands, freed):
            report.capacity.append(cap)
            dims = {"Pool": cap.pool, "AZ": cap.az}
            waiting = sweep.waiting[(cap.pool, cap.az)]
            observer.metric("PoolFree", cap.free, dimensions=dims)
            observer.metric("PoolInUse", cap.in_use, dimensions=dims)
            observer.metric("PoolShortfall", cap.shortfall, dimensions=dims)
            # A gauge: instances in Pending:Wait for an address of this pool and AZ now.
            observer.metric("WaitingForAddress", waiting, dimensions=dims)
            observer.decision(
                "pool_capacity",
                level="warning" if cap.shortfall or waiting else "info",
                pool=cap.pool,
                az=cap.az,
                free=cap.free,
                in_use=cap.in_use,
                need=cap.need,
                shortfall=cap.shortfall,
                waiting=waiting,
            )

    def _reread(self, sweep: SweepPass, pool: str) -> None:
        sweep.pools[pool] = self.deps.compute.list_pool(
            tag_key=self.settings.pool_tag_key, pool=pool
        )
