"""docs/design.md section 4's invariants, checked against the AWS state (moto or real, read-only).

1. An ENI is attached to at most one instance; an instance holds at most one pool ENI.
2. No InService instance of a managed group lacks its pool ENI and host name.
4. A pool ENI whose instance is terminating or terminated returns to `available`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fixed_ip_local.world import HOSTNAME_TAG, POOL_TAG


def pool_enis(ec2: Any, pool: str) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [pool]}]
    )
    return [eni for page in pages for eni in page["NetworkInterfaces"]]


def group_instances(autoscaling: Any, group: str) -> list[dict[str, Any]]:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return [i for g in groups["AutoScalingGroups"] for i in g["Instances"]]


def violations(session: Any, group: str, pool: str, *, os_hostname: Any = None) -> list[str]:
    """Every broken invariant, as readable sentences (empty when all hold).
    `os_hostname(instance_id)` returns the OS host name where it can be known (moto)."""
    ec2, autoscaling = session.client("ec2"), session.client("autoscaling")
    found: list[str] = []
    enis = pool_enis(ec2, pool)
    held = Counter(
        e["Attachment"]["InstanceId"] for e in enis if e.get("Attachment", {}).get("InstanceId")
    )
    for instance_id, n in held.items():
        if n > 1:
            found.append(f"{instance_id} holds {n} pool ENIs")
    states: dict[str, str] = {}
    if held:
        reservations = ec2.describe_instances(InstanceIds=list(held))["Reservations"]
        states = {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}
    for eni in enis:
        holder = eni.get("Attachment", {}).get("InstanceId")
        if holder and states.get(holder) in {"shutting-down", "terminated"}:
            found.append(f"{eni['NetworkInterfaceId']} still attached to {states[holder]} {holder}")
    eni_host = {
        e["Attachment"]["InstanceId"]: {t["Key"]: t["Value"] for t in e.get("TagSet", [])}.get(
            HOSTNAME_TAG
        )
        for e in enis
        if e.get("Attachment", {}).get("InstanceId")
    }
    for inst in group_instances(autoscaling, group):
        if inst["LifecycleState"] != "InService":
            continue
        iid = inst["InstanceId"]
        if iid not in eni_host:
            found.append(f"{iid} is InService without a pool ENI")
            continue
        if os_hostname is not None and eni_host[iid] is None:
            found.append(f"{iid} is InService with a pool ENI that has no host name")
        elif os_hostname is not None and os_hostname(iid) != eni_host[iid]:
            found.append(
                f"{iid} is InService with OS host name {os_hostname(iid)!r}, not {eni_host[iid]!r}"
            )
    return found
