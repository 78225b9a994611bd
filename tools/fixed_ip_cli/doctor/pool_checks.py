"""Checks of the pool for the group: coverage of its AZs, capacity, and its instances'
ENIs."""

from __future__ import annotations

from collections import Counter

from fixed_ip.models import GROUPS_TAG
from fixed_ip_cli.capacity import AzCapacity, GroupNeed, group_capacity
from fixed_ip_cli.doctor.deployment import Deployment
from fixed_ip_cli.doctor.model import (
    FAIL,
    LEAVING_STATES,
    PASS,
    SKIP,
    WAITING_STATES,
    WARN,
    Check,
    no_group,
)


def _need(d: Deployment) -> GroupNeed:
    group = d.group or {}
    return GroupNeed(
        name=d.options.group,
        pool=d.pool,
        max_size=int(group.get("MaxSize", 0)),
        azs=tuple(sorted(d.group_azs)),
        max_healthy_percent=d.max_healthy_percent,
        members=frozenset(i["InstanceId"] for i in group.get("Instances", [])),
        vpc_ids=frozenset(s["VpcId"] for s in d.subnets),
    )


def check_pool_coverage(d: Deployment) -> Check:
    if d.group is None:
        return no_group("pool-coverage", d)
    azs = d.group_azs
    apply = "add addresses in that subnet to the pool spec and run `fixed-ip pool apply SPEC`"
    if not d.pool_enis:
        others = d.other_pools
        hint = f" (pools found in {d.region}: {', '.join(others)})" if others else ""
        return Check(
            "pool-coverage",
            FAIL,
            f"pool {d.pool} has no ENI{hint}: every launch is abandoned",
            fix="create the pool: fixed-ip pool apply SPEC.yaml (see examples/pool-seed.yaml), "
            'or name the right pool in the hook\'s NotificationMetadata {"pool": ...}',
        )
    per_az = {cap.az: cap.total for cap in group_capacity(d.pool_enis, _need(d))}
    missing = [az for az, count in per_az.items() if not count]
    vpcs = {s["VpcId"] for s in d.subnets}
    details = [
        f"{e.eni_id} ({e.ip}, {e.az}, {e.vpc_id}) is outside the group's AZs/VPC: never used for it"
        for e in d.pool_enis
        if e.az not in azs or e.vpc_id not in vpcs
    ]
    counts = ", ".join(f"{az}: {count}" for az, count in per_az.items())
    if missing:
        subnets = "; ".join(f"{az}: {', '.join(s['SubnetId'] for s in azs[az])}" for az in missing)
        return Check(
            "pool-coverage",
            FAIL,
            f"pool {d.pool} has no ENI in {', '.join(missing)} ({counts}): instances launched "
            "there are abandoned",
            fix=f"{apply} ({subnets})",
            details=details,
        )
    if details:
        return Check(
            "pool-coverage",
            WARN,
            f"pool {d.pool} covers every AZ of the group ({counts}); some ENIs are elsewhere",
            fix="remove them from the spec and run `fixed-ip pool apply SPEC --prune`",
            details=details,
        )
    return Check(
        "pool-coverage", PASS, f"pool {d.pool} has ENIs in every AZ of the group ({counts})"
    )


def _capacity_details(d: Deployment, caps: list[AzCapacity]) -> list[str]:
    """Why ENIs of the pool do not count for this group."""
    details = [
        f"{e.eni_id} ({e.ip}): reserved for {e.tags[GROUPS_TAG]!r} by its {GROUPS_TAG} tag: "
        "the controller never gives it to this group"
        for e in d.pool_enis
        if not e.admits(d.options.group)
    ]
    for cap in caps:
        details += [
            f"{e.eni_id} ({e.ip}): {d.host_name_tag} {e.host_name!r} is not an RFC 1123 host "
            "name: the controller refuses it"
            for e in cap.refused
        ]
        details += [
            f"{e.eni_id} ({e.ip}): {e.status}"
            + (
                f", attached to {e.instance_id}, not an instance of the group"
                if e.instance_id
                else ""
            )
            for e in cap.foreign
        ]
    return details


def check_pool_capacity(d: Deployment) -> Check:
    if d.group is None:
        return no_group("pool-capacity", d)
    need = _need(d)
    if not need.azs or not d.pool_enis:
        return Check("pool-capacity", SKIP, "no AZ or no pool ENI (see pool-coverage)")
    caps = group_capacity(d.pool_enis, need)
    details = _capacity_details(d, caps)
    worst = WARN if any(cap.refused for cap in caps) else PASS
    short: dict[str, int] = {}
    for cap in caps:
        if cap.usable < need.share:
            worst = FAIL
            short[cap.az] = need.need - cap.usable
            details.append(
                f"{cap.az}: {cap.usable} usable ENI(s), but the group can place {need.share} "
                f"instances there at max size {need.max_size}"
            )
        elif cap.usable < need.need:
            worst = worst if worst == FAIL else WARN
            short[cap.az] = need.need - cap.usable
            details.append(
                f"{cap.az}: {cap.usable} usable ENI(s): enough for max size {need.max_size}, not "
                "for the replacements an instance refresh launches first (MaxHealthyPercentage "
                f"{need.max_healthy_percent})"
            )
    summary = (
        f"pool {d.pool}: need {need.need} per AZ (max {need.max_size} at "
        f"{need.max_healthy_percent}% over {len(need.azs)} AZs); "
        + ", ".join(f"{c.az}: {c.usable} usable ({c.free} free)" for c in caps)
    )
    if worst == PASS:
        return Check("pool-capacity", PASS, summary, details=details)
    add = ", ".join(f"{n} in {az}" for az, n in short.items())
    fix = f"add addresses ({add}) to the pool spec and run `fixed-ip pool apply SPEC`"
    if worst == WARN and short and need.max_healthy_percent > 100:
        fix += (
            ", or have replacements end the old instance first: the group's "
            "InstanceMaintenancePolicy MaxHealthyPercentage 100"
        )
    if not short:
        fix = "retag the refused ENIs with valid host names (fixed-ip pool apply SPEC)"
    return Check("pool-capacity", worst, summary, fix=fix, details=details)


def check_instances(d: Deployment) -> Check:
    if d.group is None:
        return no_group("instances", d)
    instances = d.group.get("Instances", [])
    held = Counter(e.instance_id for e in d.pool_enis if e.held)
    doubled = [i["InstanceId"] for i in instances if held[i["InstanceId"]] > 1]
    without = [
        i
        for i in instances
        if not held[i["InstanceId"]] and i["LifecycleState"] not in WAITING_STATES | LEAVING_STATES
    ]
    waiting = [i for i in instances if i["LifecycleState"] in WAITING_STATES]
    if doubled:
        return Check(
            "instances",
            FAIL,
            f"{len(doubled)} instance(s) hold more than one ENI of pool {d.pool}: "
            + ", ".join(doubled),
            fix="detach the extra ENI: aws ec2 detach-network-interface --attachment-id ...",
        )
    if without:
        return Check(
            "instances",
            WARN,
            f"{len(without)} of {len(instances)} instance(s) have no pool ENI (started before "
            "the hook, or launched while it was missing)",
            fix=f"replace them: aws autoscaling start-instance-refresh --auto-scaling-group-name "
            f"{d.options.group} (or terminate-instance-in-auto-scaling-group --instance-id ID "
            "--no-should-decrement-desired-capacity, one at a time)",
            details=[
                f"{i['InstanceId']} ({i['LifecycleState']}, {i['AvailabilityZone']})"
                for i in without
            ],
        )
    note = f"; {len(waiting)} waiting in Pending" if waiting else ""
    return Check(
        "instances",
        PASS,
        f"{len(instances) - len(waiting)} instance(s) in service, each with its pool ENI{note}",
    )
