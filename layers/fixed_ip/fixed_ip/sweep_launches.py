"""The sweeper's launch work: lost launch events finished, and instances waiting for an
address (policy WAIT) served longest-waiting first or kept alive with a heartbeat, all
through the normal launch path, by instance id (the event's token is not known here)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from fixed_ip import capacity
from fixed_ip.decision import WAITING
from fixed_ip.errors import InvalidEvent, Transient
from fixed_ip.launch import Deps, LaunchUseCase, outcome_metrics
from fixed_ip.models import Instance, ManagedGroup
from fixed_ip.settings import Settings
from fixed_ip.sweep_state import SweepPass
from fixed_ip.waiting import PENDING_WAIT, WAIT, WARMED_PENDING_WAIT, LaunchHookOf


class SweepLaunches:
    def __init__(self, deps: Deps, settings: Settings, launch: LaunchUseCase) -> None:
        self.deps = deps
        self.settings = settings
        self.launch = launch

    def run(
        self,
        sweep: SweepPass,
        group: ManagedGroup,
        hook: LaunchHookOf,
        vpc_ids: frozenset[str] = frozenset(),
    ) -> None:
        """Pending:Wait (and Warmed:Pending:Wait) instances, longest-waiting first: those
        older than the grace (lost launches, and instances waiting for an address) go
        through the launch path, which serves a waiting one if its AZ has a free address
        now, else records a heartbeat; a recent waiting one gets a heartbeat, or the
        launch path's ABANDON when its wait reached the bound."""
        # Warm pool entries lose events too: finished like Pending:Wait, without an address.
        states = {i.instance_id: i.lifecycle_state for i in group.instances}
        ids = {i for i, st in states.items() if st in {PENDING_WAIT, WARMED_PENDING_WAIT}}
        if not ids:
            return
        now = sweep.now
        enis = sweep.pools[hook.pool]
        holders = {e.instance_id for e in enis if e.held}
        # Addresses a launch of the group could claim now, those released earlier in the
        # pass included (counted once per pass: the launch path itself re-reads the pool).
        seen = capacity.as_seen(enis, frozenset(sweep.report.released))
        free = Counter(e.az for e in seen if capacity.usable_by(e, group.name, vpc_ids))
        grace = timedelta(seconds=self.settings.lost_launch_grace_seconds)
        bound = timedelta(seconds=self.settings.wait_for_address_seconds)
        instances = sorted(
            (sweep.described[i] for i in ids if i in sweep.described),
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
                sweep.observer.decision(
                    "lost_launch_found",
                    instance_id=inst.instance_id,
                    group=group.name,
                    hook=hook.hook,
                    pool=hook.pool,
                    az=inst.az,
                    lifecycle_state=states.get(inst.instance_id),
                )
            try:
                if not self._launch(sweep, group, hook, inst, warm=warm):
                    return
            except Exception as exc:
                # This instance only: the next one, and the rest of the pass, go on.
                sweep.failed("lost_launch", exc, instance_id=inst.instance_id, group=group.name)

    def _keep_waiting(
        self,
        sweep: SweepPass,
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
        sweep: SweepPass,
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
        scoped = hook.observer_for(observer, inst.instance_id)
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
            detail=out.detail,
            aws_error=out.aws_error,
            completed=out.completed,
        )
        return True
