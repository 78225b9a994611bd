"""Leaked ENIs: pool ENIs still attached to instances that are shutting down, terminated
or gone (the terminate event was lost, or the instance never had a hook), given back
after a grace period; never from a running, pending or stopped instance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fixed_ip.models import Instance, PoolEni
from fixed_ip.ports import Compute, Observer
from fixed_ip.settings import Settings

GONE_STATES = {"shutting-down", "terminated"}


def release_leaked(
    compute: Compute,
    settings: Settings,
    pool: str,
    enis: list[PoolEni],
    now: datetime,
    observer: Observer,
    *,
    on_error: Callable[..., None],
    known: dict[str, Instance],
) -> list[str]:
    """Detach the pool's ENIs still attached to instances that are gone, after a grace;
    return their ids. A detach that fails is handed to `on_error` (with the ENI's ids)
    and the other ENIs are still released. `known`: the holders as described during the
    pass (one missing from it is not listed by EC2)."""
    released: list[str] = []
    # Not the primary interfaces (device index 0) a launch template may have tagged:
    # EC2 deletes or keeps those with their instance.
    attached = sorted((e for e in enis if e.held), key=lambda e: e.eni_id)
    if not attached:
        return released
    grace = timedelta(seconds=settings.leak_grace_seconds)
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
        if inst is None and eni.attached_at and now - eni.attached_at < grace:
            # EC2 may not list an instance yet right after its launch (eventual
            # consistency) while the attach already shows: not gone, just not visible.
            continue
        if eni.attachment_id:
            try:
                compute.detach(eni.attachment_id)
            except Exception as exc:
                on_error(exc, pool=pool, eni_id=eni.eni_id, instance_id=instance_id, az=eni.az)
                continue
        released.append(eni.eni_id)
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
    return released
