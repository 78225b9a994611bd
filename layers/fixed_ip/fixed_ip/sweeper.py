"""The sweeper: what events miss, repaired on a schedule. Pure: it talks only to ports.

For each managed group (a group with a fixed-ip hook) and its pool:
1. finishes launch actions whose event was lost: instances in Pending:Wait for longer
   than a grace period go through the launch use case, completed by instance id (the
   token came with the lost event). The use case is idempotent, so a late controller run
   for the same instance is harmless;
   serves the instances waiting for an address (policy WAIT): longest-waiting first, as
   many as its AZ has free ENIs, through the same launch path; records a heartbeat for
   the others so that the hook never times out within the wait's bound; at the bound
   the launch path ABANDONs them;
2. gives back pool ENIs still attached to instances that are shutting down, terminated
   or gone, after a grace period; never from a running (or stopped) instance;
3. reports InService instances without a pool ENI (launched before the hook existed, or
   a CONTINUE chosen by policy);
4. computes free and in-use ENIs per pool and AZ against what the groups may need there:
   their maximum size, raised by the replacements' headroom, shared over their AZs;
5. reports pool ENIs held by live instances outside every managed group (detached from
   their group): they keep the address, but the pool lost it until someone acts.
   Standby and stopped instances of a group are its members and keep theirs silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fixed_ip import capacity
from fixed_ip.capacity import Capacity, az_need
from fixed_ip.decision import WAITING
from fixed_ip.errors import InvalidEvent, Transient
from fixed_ip.launch import Deps, LaunchUseCase, outcome_metrics
from fixed_ip.leaks import GONE_STATES, release_leaked
from fixed_ip.models import Instance, ManagedGroup, PoolEni
from fixed_ip.ports import DimensionedObserver, Observer
from fixed_ip.settings import Settings
from fixed_ip.waiting import (
    PENDING_WAIT,
    WAIT,
    WARMED_PENDING_WAIT,
    LaunchHookOf,
    launch_hook_of,
)


@dataclass
class SweepReport:
    groups: int = 0
    lost_launches: list[tuple[str, str | None]] = field(default_factory=list)  # (id, result)
    released: list[str] = field(default_factory=list)  # ENI ids
    without_eni: list[str] = field(default_factory=list)  # instance ids
    capacity: list[Capacity] = field(default_factory=list)
    stopped_early: str | None = None
    lost_pools: set[str] = field(default_factory=set)  # pools lost launches claimed from
    waiting: list[str] = field(default_factory=list)  # instances still waiting for an address
    outside: list[str] = field(default_factory=list)  # ENIs held outside every managed group


@dataclass
class _Pass:
    """One pass's shared state: the pools read once, the need per pool and AZ."""

    now: datetime
    deadline: float
    observer: Observer
    report: SweepReport = field(default_factory=SweepReport)
    pools: dict[str, list[PoolEni]] = field(default_factory=dict)
    need: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    waiting: Counter[tuple[str, str]] = field(default_factory=Counter)  # (pool, AZ)
    members: set[str] = field(default_factory=set)  # instances of the managed groups


class SweeperUseCase:
    def __init__(self, deps: Deps, settings: Settings, launch: LaunchUseCase) -> None:
        self.deps = deps
        self.settings = settings
        self.launch = launch

    def run(self, *, now: datetime, deadline: float, observer: Observer) -> SweepReport:
        sweep = _Pass(now=now, deadline=deadline, observer=observer)
        for group in self.deps.lifecycle.managed_groups(self.settings.hook_prefix):
            self._sweep_group(sweep, group)
        # Every pool's holders, described once for the leak and the outside checks.
        holders = sorted(
            {e.instance_id for es in sweep.pools.values() for e in es if e.instance_id}
        )
        known = {i.instance_id: i for i in self.deps.compute.describe_instances(holders)}
        for pool, enis in sweep.pools.items():
            released = release_leaked(
                self.deps.compute, self.settings, pool, enis, now, observer, known
            )
            sweep.report.released += released
        self._report_outside(sweep, known)
        self._publish_capacity(sweep)
        return sweep.report

    def _report_outside(self, sweep: _Pass, known: dict[str, Instance]) -> None:
        """Pool ENIs on live instances that no managed group lists (detached from their
        group, or never in one): left attached, since the instance still runs with its
        address, and reported, since the pool lost it. Instances launched within the
        lost-launch grace are left out (they may have joined after the groups were read)."""
        freed = set(sweep.report.released)
        candidates = [
            (pool, e)
            for pool, enis in sorted(sweep.pools.items())
            for e in enis
            if e.instance_id and e.instance_id not in sweep.members and e.eni_id not in freed
        ]
        grace = timedelta(seconds=self.settings.lost_launch_grace_seconds)
        for pool, eni in candidates:
            inst = known.get(eni.instance_id or "")
            if inst is None or inst.state in GONE_STATES:
                continue  # gone: the leak step gives it back
            if inst.launch_time is not None and sweep.now - inst.launch_time < grace:
                continue
            sweep.report.outside.append(eni.eni_id)
            sweep.observer.metric("EnisHeldOutsideGroup", dimensions={"Pool": pool})
            sweep.observer.decision(
                "eni_held_outside_group",
                level="warning",
                instance_id=inst.instance_id,
                group=inst.group,
                pool=pool,
                az=eni.az,
                eni_id=eni.eni_id,
                ip=eni.ip,
                host_name=eni.host_name,
                instance_state=inst.state,
                detail="the instance is in no managed group (detached?): it keeps the "
                "address; terminate it or attach it back to give the address to the pool",
            )

    def _sweep_group(self, sweep: _Pass, group: ManagedGroup) -> None:
        """One group: its pool, its need per AZ, its instances without an ENI, and its
        lost launches (while the pass has time)."""
        hooks = group.launch_hooks()
        if not hooks:
            return
        report, observer = sweep.report, sweep.observer
        report.groups += 1
        sweep.members.update(gi.instance_id for gi in group.instances)
        try:
            hook = launch_hook_of(group, self.settings)
            assert hook is not None  # the group has launch hooks
            pool = hook.pool
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
        for az in group.azs:
            sweep.need[(pool, az)] += az_need(group, self.settings.max_healthy_percent)
        self._report_without_eni(sweep, group, pool)
        if report.stopped_early is None:
            self._finish_lost_launches(sweep, group, hook)

    @staticmethod
    def _report_without_eni(sweep: _Pass, group: ManagedGroup, pool: str) -> None:
        holders = {e.instance_id for e in sweep.pools[pool] if e.instance_id}
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

    def _publish_capacity(self, sweep: _Pass) -> None:
        report, observer = sweep.report, sweep.observer
        for pool in sorted(report.lost_pools):
            # lost launches claimed ENIs during the pass: count what is there now
            sweep.pools[pool] = self.deps.compute.list_pool(
                tag_key=self.settings.pool_tag_key, pool=pool
            )
        freed = set(report.released)
        for (pool, az), needed in sorted(sweep.need.items()):
            cap = capacity.in_az(pool, az, sweep.pools[pool], needed, freed)
            report.capacity.append(cap)
            dims = {"Pool": pool, "AZ": az}
            observer.metric("PoolFree", cap.free, dimensions=dims)
            observer.metric("PoolInUse", cap.in_use, dimensions=dims)
            observer.metric("PoolShortfall", cap.shortfall, dimensions=dims)
            # A gauge: instances in Pending:Wait for an address of this pool and AZ now.
            observer.metric("WaitingForAddress", sweep.waiting[(pool, az)], dimensions=dims)
            observer.decision(
                "pool_capacity",
                level="warning" if cap.shortfall else "info",
                pool=pool,
                az=az,
                free=cap.free,
                in_use=cap.in_use,
                need=cap.need,
                shortfall=cap.shortfall,
                waiting=sweep.waiting[(pool, az)],
            )

    def _finish_lost_launches(self, sweep: _Pass, group: ManagedGroup, hook: LaunchHookOf) -> None:
        """Pending:Wait instances, longest-waiting first: those older than the grace
        (lost launches, and instances waiting for an address) go through the launch path,
        which serves a waiting one if its AZ has a free address now, else records a
        heartbeat; a recent waiting one gets a heartbeat, or the launch path's ABANDON
        when its wait reached the bound."""
        # Warm pool entries lose events too: finished like Pending:Wait, without an address.
        states = {i.instance_id: i.lifecycle_state for i in group.instances}
        ids = [i for i, st in states.items() if st in {PENDING_WAIT, WARMED_PENDING_WAIT}]
        if not ids:
            return
        now, observer = sweep.now, sweep.observer
        enis = sweep.pools[hook.pool]
        holders = {e.instance_id for e in enis if e.instance_id}
        free = Counter(e.az for e in enis if e.free and e.admits(group.name))
        # (Counted once per pass: the launch path itself re-reads the pool.)
        grace = timedelta(seconds=self.settings.lost_launch_grace_seconds)
        bound = timedelta(seconds=self.settings.wait_for_address_seconds)
        instances = sorted(
            self.deps.compute.describe_instances(ids),
            key=lambda i: (i.launch_time is None, i.launch_time or now, i.instance_id),
        )
        for inst in instances:
            if inst.launch_time is None:
                continue
            age = now - inst.launch_time
            warm = states.get(inst.instance_id) == WARMED_PENDING_WAIT
            waits = hook.policy == WAIT and not warm and inst.instance_id not in holders
            if age < grace:
                # Recent: its own launch is most likely still at work, unless its AZ has
                # no free address (it waits: keep its hook alive) or its wait is over.
                if not waits or (free[inst.az] > 0 and age < bound):
                    continue
                if age < bound:
                    self._keep_waiting(sweep, group, hook, inst, age.total_seconds())
                    continue
            else:
                observer.decision(
                    "lost_launch_found",
                    instance_id=inst.instance_id,
                    group=group.name,
                    hook=hook.hook,
                    pool=hook.pool,
                    az=inst.az,
                )
            if not self._launch(sweep, group, hook, inst, warm=warm):
                return

    def _keep_waiting(
        self,
        sweep: _Pass,
        group: ManagedGroup,
        hook: LaunchHookOf,
        inst: Instance,
        waited: float,
    ) -> None:
        """A waiting instance with no address free in its AZ: a heartbeat, so that the
        hook's timeout never ends the wait before its bound."""
        alive = self.deps.lifecycle.heartbeat(
            group=group.name, hook=hook.hook, token=None, instance_id=inst.instance_id
        )
        if alive:
            sweep.waiting[(hook.pool, inst.az)] += 1
            sweep.report.waiting.append(inst.instance_id)
        sweep.observer.decision(
            WAITING if alive else "waiting_action_gone",
            level="warning",
            instance_id=inst.instance_id,
            group=group.name,
            pool=hook.pool,
            az=inst.az,
            waited_seconds=round(waited),
            wait_bound_seconds=self.settings.wait_for_address_seconds,
            heartbeat=alive,
        )

    def _launch(
        self,
        sweep: _Pass,
        group: ManagedGroup,
        hook: LaunchHookOf,
        inst: Instance,
        *,
        warm: bool = False,
    ) -> bool:
        """The launch path for one instance; False when the pass must stop here."""
        observer, report = sweep.observer, sweep.report
        req = hook.request(self.settings, inst.instance_id, to_warm_pool=warm)
        # The launch's metrics as the launch function would emit them (by Pool).
        scoped = DimensionedObserver(
            observer,
            {"Pool": hook.pool},
            instance_id=inst.instance_id,
            group=group.name,
            hook=hook.hook,
            pool=hook.pool,
        )
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
            return False
        except InvalidEvent as exc:
            observer.decision(
                "lost_launch_refused",
                level="error",
                reason=exc.reason,
                detail=str(exc),
                instance_id=inst.instance_id,
            )
            return True
        outcome_metrics(scoped, out)
        if out.reason == WAITING:
            # Still no address in its AZ: it keeps waiting (the launch path recorded a
            # heartbeat and its own log line).
            sweep.waiting[(hook.pool, out.az or inst.az)] += 1
            report.waiting.append(inst.instance_id)
            return True
        report.lost_launches.append((inst.instance_id, out.result))
        report.lost_pools.add(hook.pool)
        observer.metric("LostLaunchesFinished", dimensions={"Pool": hook.pool})
        observer.decision(
            "lost_launch_finished",
            instance_id=inst.instance_id,
            group=group.name,
            pool=hook.pool,
            az=out.az,
            eni_id=out.eni_id,
            ip=out.ip,
            host_name=out.host_name,
            result=out.result,
            reason=out.reason,
            completed=out.completed,
        )
        return True
