"""Test helpers for the fault, property and bad-input tests. The invariants themselves are
checked by fixed_ip_local.invariants, the project's one checker."""

from __future__ import annotations

from typing import Any

from fixed_ip_local import moto_patches
from fixed_ip_local.invariants import violations
from fixed_ip_local.world import POOL_TAG


def pool_problems(session: Any, group: str, pool: str, *, os_hostnames: bool = True) -> list[str]:
    """Every broken invariant, the OS host names and addresses included unless
    `os_hostnames` is false (the operator chose to give up the OS step)."""
    if not os_hostnames:
        return violations(session, group, pool)
    return violations(
        session,
        group,
        pool,
        os_hostname=moto_patches.os_hostname,
        os_address=moto_patches.os_address,
    )


def held(session: Any, pool: str) -> dict[str, list[str]]:
    """instance id -> the pool ENI ids attached to it."""
    out: dict[str, list[str]] = {}
    enis = session.client("ec2").describe_network_interfaces(
        Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [pool]}]
    )["NetworkInterfaces"]
    for eni in enis:
        holder = (eni.get("Attachment") or {}).get("InstanceId")
        if holder:
            out.setdefault(holder, []).append(eni["NetworkInterfaceId"])
    return out


def lifecycle_state(session: Any, instance_id: str) -> str | None:
    found = session.client("autoscaling").describe_auto_scaling_instances(
        InstanceIds=[instance_id]
    )["AutoScalingInstances"]
    return found[0]["LifecycleState"] if found else None


def ec2_state(session: Any, instance_id: str) -> str:
    reservations = session.client("ec2").describe_instances(InstanceIds=[instance_id])
    return reservations["Reservations"][0]["Instances"][0]["State"]["Name"]


def action_of(instance_id: str) -> dict[str, Any]:
    """The (last) launch lifecycle action of `instance_id`, as moto_patches records it."""
    return [
        a
        for a in moto_patches.lifecycle_actions()
        if a["instance_id"] == instance_id and a["transition"] == moto_patches.LAUNCHING
    ][-1]


def finals(logs: Any) -> list[dict[str, Any]]:
    """The final decision lines of a runner's log collector."""
    return [
        r
        for r in logs.records
        if r.get("decision") in {"lifecycle_completed", "lifecycle_not_active", "event_refused"}
    ]
