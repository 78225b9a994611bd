"""What a sweeper pass reports without changing anything: InService instances without
their pool ENI, live instances of a pool sharing a host name, and pool ENIs held by live
instances outside every managed group."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from fixed_ip.leaks import GONE_STATES
from fixed_ip.models import Instance, ManagedGroup
from fixed_ip.sweep_state import SweepPass


def without_eni(sweep: SweepPass, group: ManagedGroup, pool: str) -> None:
    """InService instances of `group` that hold no ENI of `pool` (launched before the
    hook existed, or an ENI detached by hand)."""
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


def duplicate_host_names(sweep: SweepPass, pool: str) -> None:
    """Live instances of the pool's groups sharing a host name (an ENI detached by hand
    from a running instance and handed to the next launch): one line per name, and the
    number of such names (0 included, so the alarm sees the pool recover)."""
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


def held_outside(sweep: SweepPass, known: dict[str, Instance], grace_seconds: int) -> None:
    """Pool ENIs on live instances that no managed group lists (detached from their
    group, or never in one): left attached, since the instance still runs with its
    address, and reported, since the pool lost it. Instances launched within the
    lost-launch grace are left out (they may have joined after the groups were read)."""
    freed = set(sweep.report.released)
    candidates = [
        (pool, e)
        for pool, enis in sorted(sweep.pools.items())
        for e in enis
        if e.held and e.instance_id not in sweep.member_ids and e.eni_id not in freed
    ]
    grace = timedelta(seconds=grace_seconds)
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
