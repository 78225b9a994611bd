"""docs/design.md section 4's invariants, checked against the AWS state (moto or real, read-only).

The one checker of the project: the simulation, the demo, the benchmark and every test
(integration, fault, property) use it.

1. An ENI is attached to at most one instance; an instance holds at most one pool ENI
   (read from both sides: the ENIs' attachments and the instances' interface lists).
2. No InService instance of a managed group lacks its pool ENI and, where the OS can be
   seen (moto), the host name of that ENI when it has one.
4. A pool ENI whose instance is terminating or terminated returns to `available`.
And no leaked pool ENI: one attached to an instance that is not a member of the group
holding it legitimately, or one neither available nor attached.

:func:`picture` reads AWS three times (all ENIs, all instances, the group) and
:func:`problems_in` checks everything from that one picture, so the property tests can
afford it after every step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fixed_ip_local.world import HOSTNAME_TAG, POOL_TAG

GONE = {"shutting-down", "terminated"}
# Terminating:Wait: still held until the terminate function releases it. Standby (and on
# the way in or out of it): the instance keeps its address and comes back with it.
HOLDING_STATES = {
    "Pending:Wait",
    "Pending:Proceed",
    "InService",
    "EnteringStandby",
    "Standby",
    "Terminating:Wait",
}

#: instance id -> the host name its OS has (None: none set); known on moto only.
OsHostname = Callable[[str], str | None]
#: instance id -> the fixed address its OS has configured and verified (None: none).
OsAddress = Callable[[str], str | None]


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def pool_enis(ec2: Any, pool: str) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [pool]}]
    )
    return [eni for page in pages for eni in page["NetworkInterfaces"]]


def group_instances(autoscaling: Any, group: str) -> list[dict[str, Any]]:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return [i for g in groups["AutoScalingGroups"] for i in g["Instances"]]


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
    pic: Picture,
    pool: str,
    *,
    os_hostname: OsHostname | None = None,
    os_address: OsAddress | None = None,
) -> list[str]:
    """Every broken invariant in one picture, as readable sentences (empty when all hold).
    With ``os_hostname`` (moto: ``moto_patches.os_hostname``) invariant 2 also requires the
    OS host name of every InService instance to be its ENI's ``HostName`` (when it has
    one); with ``os_address`` (``moto_patches.os_address``), its OS to have the ENI's
    address configured and verified."""
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
        ip = pool_enis[by_holder[iid]].get("PrivateIpAddress")
        if os_address is not None and os_address(iid) != ip:
            found.append(f"{iid} is InService without its fixed address {ip} in the OS")
        if os_hostname is None:
            continue
        want = _tags(pool_enis[by_holder[iid]].get("TagSet")).get(HOSTNAME_TAG)
        have = os_hostname(iid)
        # An ENI without a host-name tag serves its address and sets no host name.
        if want is not None and have != want:
            found.append(f"{iid} is InService with OS host name {have!r}, not {want!r}")
    return found


def violations(
    session: Any,
    group: str,
    pool: str,
    *,
    os_hostname: OsHostname | None = None,
    os_address: OsAddress | None = None,
) -> list[str]:
    """Every broken invariant of ``group`` and ``pool`` now (see :func:`problems_in`)."""
    return problems_in(
        picture(session, group), pool, os_hostname=os_hostname, os_address=os_address
    )
