"""The sweeper: what events miss, repaired on a schedule. Pure: it talks only to ports.

For each managed group (a group with a fixed-ip hook, matching ManagedGroupPattern) and
its pool:
1. finishes launch actions whose event was lost: instances in Pending:Wait (or
   Warmed:Pending:Wait, on their way into a warm pool) for longer than a grace period go
   through the launch use case, completed by instance id (the token came with the lost
   event). The use case is idempotent, so a late controller run for the same instance is
   harmless;
2. gives back pool ENIs still attached to instances that are shutting down, terminated
   or gone, after a grace period; never from a running (or stopped) instance;
3. reports InService instances without a pool ENI (launched before the hook existed, or
   a CONTINUE chosen by policy), and live instances of a pool sharing a host name (an
   ENI detached by hand from a running instance and handed to the next launch);
4. computes usable, in-use and needed addresses per pool, group and AZ (capacity.py).

One bad group, instance, pool or ENI never stops the pass: each failure is logged with
its error, counted (SweepErrors), and the rest of the pass (leaked ENIs, capacity
metrics) still happens.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fixed_ip import capacity
from fixed_ip.capacity import Capacity, Demand
from fixed_ip.error_codes import exception_fields
from fixed_ip.errors import InvalidEvent, Transient
from fixed_ip.launch import Deps, LaunchUseCase, outcome_metrics
from fixed_ip.leaks import release_leaked
from fixed_ip.models import HookMetadata, Instance, LaunchRequest, ManagedGroup, PoolEni
from fixed_ip.ports import DimensionedObserver, Observer
from fixed_ip.settings import Settings

PENDING_WAIT = "Pending:Wait"
WARMED_PENDING_WAIT = "Warmed:Pending:Wait"
# Group members whose host name counts: they serve (or are about to). Terminating and
# warm-pool instances are left out (a warm instance holds no address).
LIVE_LIFECYCLE = {"Pending:Wait", "Pending:Proceed", "InService", "Standby"}
LIVE_EC2 = {"pending", "running"}


@dataclass
class SweepReport:
    groups: int = 0
    lost_launches: list[tuple[str, str | None]] = field(default_factory=list)  # (id, result)
    released: list[str] = field(default_factory=list)  # ENI ids
    without_eni: list[str] = field(default_factory=list)  # instance ids
    capacity: list[Capacity] = field(default_factory=list)  # per pool and AZ
    group_capacity: list[Capacity] = field(default_factory=list)  # per pool, group and AZ
    # (pool, host name) -> ids of the live instances sharing it
    duplicate_host_names: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # "step: error type" per failure
    stopped_early: str | None = None
    lost_pools: set[str] = field(default_factory=set)  # pools lost launches claimed from


@dataclass
class _Pass:
    """One pass's shared state: the pools read once, the groups' demands, their members."""

    now: datetime
    deadline: float
    observer: Observer
    report: SweepReport = field(default_factory=SweepReport)
    pools: dict[str, list[PoolEni]] = field(default_factory=dict)
    demands: list[Demand] = field(default_factory=list)
    # pool -> (group, live member instance) for the host-name check
    members: dict[str, list[tuple[str, Instance]]] = field(
        default_factory=lambda: defaultdict(list)
    )


class SweeperUseCase:
    def __init__(self, deps: Deps, settings: Settings, launch: LaunchUseCase) -> None:
        self.deps = deps
        self.settings = settings
        self.launch = launch

    def run(self, *, now: datetime, deadline: float, observer: Observer) -> SweepReport:
        sweep = _Pass(now=now, deadline=deadline, observer=observer)
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
        for pool, enis in sweep.pools.items():
            self._guarded(sweep, "leaked_enis", self._release, sweep, pool, enis, pool=pool)
        for pool in sorted(sweep.pools):
            self._guarded(sweep, "host_names", self._duplicate_host_names, sweep, pool, pool=pool)
        self._publish_capacity(sweep)
        return sweep.report

    def _guarded(
        self, sweep: _Pass, step: str, fn: Callable[..., None], *args: Any, **ids: Any
    ) -> None:
        """Run one step of the pass; a failure is logged, counted, and the pass goes on."""
        try:
            fn(*args)
        except Exception as exc:
            _failed(sweep, step, exc, **ids)

    def _sweep_group(self, sweep: _Pass, group: ManagedGroup) -> None:
        """One group: its pool, its demand, its instances without an ENI, its members'
        host names, and its lost launches (while the pass has time)."""
        hooks = group.launch_hooks()
        if not hooks:
            return
        report, observer = sweep.report, sweep.observer
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
            return
        if pool not in sweep.pools:
            sweep.pools[pool] = self.deps.compute.list_pool(
                tag_key=self.settings.pool_tag_key, pool=pool
            )
        vpcs = self.deps.compute.subnet_vpcs(list(group.subnet_ids)) if group.subnet_ids else {}
        sweep.demands.append(capacity.demand(group, pool, self.settings.max_healthy_percent, vpcs))
        self._report_without_eni(sweep, group, pool)
        ids = [i.instance_id for i in group.instances]
        described = {i.instance_id: i for i in self.deps.compute.describe_instances(ids)}
        for gi in group.instances:
            inst = described.get(gi.instance_id)
            if inst is not None and gi.lifecycle_state in LIVE_LIFECYCLE and inst.state in LIVE_EC2:
                sweep.members[pool].append((group.name, inst))
        if report.stopped_early is None:
            self._finish_lost_launches(sweep, group, hooks[0].name, pool, metadata, described)

    def _release(self, sweep: _Pass, pool: str, enis: list[PoolEni]) -> None:
        released = release_leaked(
            self.deps.compute, self.settings, pool, enis, sweep.now, sweep.observer,
            on_error=lambda exc, **ids: _failed(sweep, "leaked_eni", exc, **ids),
        )  # fmt: skip
        sweep.report.released += released

    @staticmethod
    def _report_without_eni(sweep: _Pass, group: ManagedGroup, pool: str) -> None:
        holders = {e.instance_id for e in sweep.pools[pool] if e.held}
        for gi in group.instances:
            if gi.lifecycle_state == "InService" and gi.instance_id not in holders:
                sweep.report.without_eni.append(gi.instance_id)
                sweep.observer.metric("InstancesWithoutEni", dimensions={"Pool": pool})
                sweep.observer.decision(
                    "instance_without_eni",
                    level="warning",
                    instance_id=gi.instance_id,
                    group=group.name,
                    pool=pool,
                    az=gi.az,
                )

    @staticmethod
    def _duplicate_host_names(sweep: _Pass, pool: str) -> None:
        """Live instances of the pool's groups sharing a host name: one line per name, and
        the number of such names (0 included, so the alarm sees the pool recover)."""
        by_name: dict[str, list[tuple[str, Instance]]] = defaultdict(list)
        for group, inst in sweep.members[pool]:
            if inst.host_name:
                by_name[inst.host_name.lower()].append((group, inst))
        shared = {name: found for name, found in sorted(by_name.items()) if len(found) > 1}
        for found in shared.values():
            ids = sorted(inst.instance_id for _, inst in found)
            host_name = found[0][1].host_name or ""
            sweep.report.duplicate_host_names[(pool, host_name)] = ids
            sweep.observer.decision(
                "duplicate_host_name",
                level="warning",
                pool=pool,
                host_name=host_name,
                instance_id=",".join(ids),
                group=",".join(sorted({g for g, _ in found})),
                az=",".join(sorted({inst.az for _, inst in found})),
                detail=f"{len(ids)} live instances are named {host_name!r}",
            )
        sweep.observer.metric("DuplicateHostNames", len(shared), dimensions={"Pool": pool})

    def _publish_capacity(self, sweep: _Pass) -> None:
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
            observer.metric("PoolFree", cap.free, dimensions=dims)
            observer.metric("PoolInUse", cap.in_use, dimensions=dims)
            observer.metric("PoolShortfall", cap.shortfall, dimensions=dims)
            observer.decision(
                "pool_capacity",
                level="warning" if cap.shortfall else "info",
                pool=cap.pool,
                az=cap.az,
                free=cap.free,
                in_use=cap.in_use,
                need=cap.need,
                shortfall=cap.shortfall,
            )

    def _reread(self, sweep: _Pass, pool: str) -> None:
        sweep.pools[pool] = self.deps.compute.list_pool(
            tag_key=self.settings.pool_tag_key, pool=pool
        )

    def _finish_lost_launches(
        self,
        sweep: _Pass,
        group: ManagedGroup,
        hook: str,
        pool: str,
        metadata: HookMetadata,
        described: dict[str, Instance],
    ) -> None:
        observer, report = sweep.observer, sweep.report
        grace = timedelta(seconds=self.settings.lost_launch_grace_seconds)
        for gi in group.instances:
            if gi.lifecycle_state not in (PENDING_WAIT, WARMED_PENDING_WAIT):
                continue
            inst = described.get(gi.instance_id)
            if inst is None or inst.launch_time is None or sweep.now - inst.launch_time < grace:
                continue
            observer.decision(
                "lost_launch_found",
                instance_id=inst.instance_id,
                group=group.name,
                hook=hook,
                pool=pool,
                az=inst.az,
                lifecycle_state=gi.lifecycle_state,
            )
            req = LaunchRequest(
                instance_id=inst.instance_id,
                group=group.name,
                hook=hook,
                token=None,
                pool=pool,
                device_index=metadata.device_index or self.settings.device_index,
                # On its way into the warm pool: completed without an address, as the
                # launch function does; it gets one when it leaves the pool.
                to_warm_pool=gi.lifecycle_state == WARMED_PENDING_WAIT,
            )
            # The launch's metrics as the launch function would emit them (by Pool).
            scoped = DimensionedObserver(observer, {"Pool": pool})
            try:
                out = self.launch.run(req, deadline=sweep.deadline, observer=scoped)
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
            except Exception as exc:
                # This instance only: the next one, and the rest of the pass, go on.
                _failed(sweep, "lost_launch", exc, instance_id=inst.instance_id, group=group.name)
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
                detail=out.detail,
                aws_error=out.aws_error,
                completed=out.completed,
            )


def _failed(sweep: _Pass, step: str, exc: BaseException, **ids: Any) -> None:
    """One failed step of the pass: a line with the error, a metric; the pass goes on."""
    sweep.report.errors.append(f"{step}: {type(exc).__name__}")
    sweep.observer.metric("SweepErrors")
    sweep.observer.decision(
        "sweep_step_failed", level="error", step=step, **ids, **exception_fields(exc)
    )
