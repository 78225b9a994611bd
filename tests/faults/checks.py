"""What every fault, property and bad-input test checks after the dust settles: the
invariants of docs/design.md section 4, plus no leaked and no double-held pool ENI.

`pool_problems` reads AWS three times (all ENIs, all instances, the group) and checks
everything from that one picture, so the property tests can afford it after every step;
with `official=True` it adds `fixed_ip_local.invariants.violations`, the project's own
checker, for a second opinion."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from fixed_ip_local import moto_patches
from fixed_ip_local.invariants import group_instances, violations
from fixed_ip_local.world import HOSTNAME_TAG, POOL_TAG

GONE = {"shutting-down", "terminated"}
# Terminating:Wait: still held until the terminate function releases it.
HOLDING_STATES = {"Pending:Wait", "InService", "Terminating:Wait"}


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


@dataclass
class Picture:
    enis: dict[str, dict[str, Any]]  # every ENI of the region, by id
    instances: dict[str, dict[str, Any]]  # every instance of the region, by id
    members: dict[str, str]  # the group's instances -> lifecycle state


def picture(session: Any, group: str) -> Picture:
    ec2 = session.client("ec2")
    enis = {
        e["NetworkInterfaceId"]: e
        for page in ec2.get_paginator("describe_network_interfaces").paginate()
        for e in page["NetworkInterfaces"]
    }
    instances = {
        i["InstanceId"]: i
        for page in ec2.get_paginator("describe_instances").paginate()
        for r in page["Reservations"]
        for i in r["Instances"]
    }
    members = {
        i["InstanceId"]: i["LifecycleState"]
        for i in group_instances(session.client("autoscaling"), group)
    }
    return Picture(enis, instances, members)


def problems_in(
    pic: Picture, pool: str, *, os_hostnames: bool = True, region: str | None = None
) -> list[str]:
    """Invariants 1, 2 and 4 of docs/design.md section 4 on one picture, and:
    - leaked ENIs: a pool ENI attached to an instance that is not a member of the group
      holding it legitimately (Pending:Wait, InService, Terminating:Wait), or a pool ENI
      neither available nor attached;
    - double-held ENIs, read from the instances' side: one ENI listed by two live
      instances, or one instance listing two pool ENIs."""
    found: list[str] = []
    pool_enis = {k: e for k, e in pic.enis.items() if _tags(e.get("TagSet")).get(POOL_TAG) == pool}
    holder_of: dict[str, str] = {}
    for eni_id, eni in pool_enis.items():
        holder = (eni.get("Attachment") or {}).get("InstanceId")
        if holder is None:
            if eni["Status"] != "available":
                found.append(f"{eni_id} is {eni['Status']} with no attachment")
            continue
        holder_of[eni_id] = holder
        state = pic.instances.get(holder, {}).get("State", {}).get("Name")
        if state in GONE:
            found.append(f"{eni_id} still attached to {state} {holder}")  # invariant 4
        elif pic.members.get(holder) not in HOLDING_STATES:
            lifecycle = pic.members.get(holder, "not in the group")
            found.append(f"{eni_id} leaked: held by {holder} ({lifecycle})")
    held = Counter(holder_of.values())
    found += [f"{i} holds {n} pool ENIs" for i, n in held.items() if n > 1]  # invariant 1
    listed: Counter[str] = Counter()
    for iid, inst in pic.instances.items():
        if inst["State"]["Name"] in GONE:
            continue
        mine = [
            n["NetworkInterfaceId"]
            for n in inst.get("NetworkInterfaces", [])
            if n["NetworkInterfaceId"] in pool_enis
        ]
        listed.update(mine)
        if len(mine) > 1:
            found.append(f"{iid} lists {len(mine)} pool ENIs")
    found += [f"{e} is listed by {n} instances" for e, n in listed.items() if n > 1]
    by_holder = {h: e for e, h in holder_of.items()}
    for iid, lifecycle in pic.members.items():  # invariant 2
        if lifecycle != "InService":
            continue
        if iid not in by_holder:
            found.append(f"{iid} is InService without a pool ENI")
            continue
        want = _tags(pool_enis[by_holder[iid]].get("TagSet")).get(HOSTNAME_TAG)
        if os_hostnames and want is None:
            found.append(f"{iid} is InService with a pool ENI that has no host name")
        elif os_hostnames and moto_patches.os_hostname(iid, region) != want:
            have = moto_patches.os_hostname(iid, region)
            found.append(f"{iid} is InService with OS host name {have!r}, not {want!r}")
    return found


def pool_problems(
    session: Any, group: str, pool: str, *, os_hostnames: bool = True, official: bool = True
) -> list[str]:
    """Everything `problems_in` finds, plus (`official`) the project's own checker."""
    found = problems_in(picture(session, group), pool, os_hostnames=os_hostnames)
    if official:
        os_hostname = moto_patches.os_hostname if os_hostnames else None
        found += [
            f"invariants.py: {v}" for v in violations(session, group, pool, os_hostname=os_hostname)
        ]
    return found


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
