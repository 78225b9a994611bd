"""Checks of the group's life beyond launches: whether the pool can carry an instance
refresh (checked before one is started), and pool addresses kept by instances that left
the group."""

from __future__ import annotations

import json

from fixed_ip.capacity import RefreshHeadroom, host_name_ok, refresh_headroom
from fixed_ip.models import ManagedGroup, PoolEni
from fixed_ip_cli.doctor.deployment import Deployment
from fixed_ip_cli.doctor.model import FAIL, PASS, SKIP, WARN, Check, no_group

# What AWS uses for a refresh that sets no MaxHealthyPercentage, on a group without an
# InstanceMaintenancePolicy: terminate first, keeping 90 % healthy.
REFRESH_DEFAULT_MAX, REFRESH_DEFAULT_MIN = 100, 90


def refresh_percent(d: Deployment) -> tuple[int, str]:
    """The MaxHealthyPercentage of the refresh to check, and where it comes from: the
    operator's plan (--max-healthy-percent), else the group's InstanceMaintenancePolicy
    (which a refresh without preferences follows), else AWS's default."""
    if d.options.max_healthy_percent is not None:
        return d.options.max_healthy_percent, "--max-healthy-percent"
    policy = (d.group or {}).get("InstanceMaintenancePolicy") or {}
    own = policy.get("MaxHealthyPercentage")
    # AWS reports -1 for a policy that leaves it unset.
    if own is not None and int(own) >= 100:
        return int(own), "the group's InstanceMaintenancePolicy"
    return REFRESH_DEFAULT_MAX, "no InstanceMaintenancePolicy: AWS's default for a refresh"


def _managed_group(d: Deployment) -> ManagedGroup:
    group = d.group or {}
    return ManagedGroup(
        name=d.options.group,
        max_size=int(group.get("MaxSize", 0)),
        azs=tuple(sorted(d.group_azs)),
        instances=(),
        hooks=(),
        subnet_ids=tuple(s["SubnetId"] for s in d.subnets),
    )


def _refresh_addresses(d: Deployment) -> list[PoolEni]:
    """The pool ENIs a refresh of the group can hand out: free ones a launch of the group
    could claim, and those its own instances hold (released as they are replaced). Not
    those held by other instances (another group, or detached ones), nor those the
    controller refuses (a bad host name), nor other VPCs' or primary interfaces."""
    members = {i["InstanceId"] for i in (d.group or {}).get("Instances", [])}
    vpcs = {s["VpcId"] for s in d.subnets}
    return [
        e
        for e in d.pool_enis
        if not e.primary
        and host_name_ok(e.host_name)
        and (not vpcs or e.vpc_id in vpcs)
        and (e.free or (e.held and e.instance_id in members))
    ]


def _terminate_first_command(d: Deployment) -> str:
    preferences = {
        "MinHealthyPercentage": REFRESH_DEFAULT_MIN,
        "MaxHealthyPercentage": REFRESH_DEFAULT_MAX,
    }
    return (
        f"aws autoscaling start-instance-refresh --auto-scaling-group-name {d.options.group} "
        f"--preferences '{json.dumps(preferences)}'"
    )


def _add(rows: list[RefreshHeadroom]) -> str:
    return ", ".join(f"{r.missing} in {r.az}" for r in rows if r.missing)


def check_refresh(d: Deployment) -> Check:
    if d.group is None:
        return no_group("refresh", d)
    if not d.group_azs or not d.pool_enis:
        return Check("refresh", SKIP, "no AZ or no pool ENI (see pool-coverage)")
    percent, source = refresh_percent(d)
    group, enis = _managed_group(d), _refresh_addresses(d)
    rows = refresh_headroom(group, d.pool, enis, percent)
    figures = ", ".join(f"{r.az}: {r.addresses} for up to {r.need}" for r in rows)
    order = "launch-first" if percent > 100 else "terminate-first"
    if all(r.ok for r in rows):
        return Check(
            "refresh",
            PASS,
            f"pool {d.pool} can carry a {order} instance refresh at MaxHealthyPercentage "
            f"{percent} ({source}); addresses per AZ: {figures}",
        )
    apply = "to the pool spec and run `fixed-ip pool apply SPEC`"
    fallback = refresh_headroom(group, d.pool, enis, REFRESH_DEFAULT_MAX)
    if percent > 100 and all(r.ok for r in fallback):
        fix = (
            f"add addresses ({_add(rows)}) {apply}; or refresh terminate-first: "
            f"{_terminate_first_command(d)}"
        )
        if source.startswith("the group's"):
            fix += (
                " (and for the replacements the policy itself drives: aws autoscaling "
                f"update-auto-scaling-group --auto-scaling-group-name {d.options.group} "
                "--instance-maintenance-policy "
                f"MinHealthyPercentage={REFRESH_DEFAULT_MIN},"
                f"MaxHealthyPercentage={REFRESH_DEFAULT_MAX})"
            )
        return Check(
            "refresh",
            WARN,
            f"a launch-first instance refresh at MaxHealthyPercentage {percent} ({source}) "
            f"needs more addresses than pool {d.pool} has ({figures}); a terminate-first one "
            "(MaxHealthyPercentage 100) fits",
            fix=fix,
            details=[r.advice() for r in rows if not r.ok],
        )
    short = fallback if percent > 100 else rows
    return Check(
        "refresh",
        FAIL,
        f"pool {d.pool} cannot carry even a terminate-first instance refresh: "
        + ", ".join(f"{r.az}: {r.addresses} for up to {r.need}" for r in short),
        fix=f"add addresses ({_add(short)}) {apply}",
        details=[r.advice() for r in short if not r.ok],
    )


def check_held_outside(d: Deployment) -> Check:
    if d.group is None:
        return no_group("held-outside", d)
    holders = d.outside_holders
    if not holders:
        return Check(
            "held-outside",
            PASS,
            f"no ENI of pool {d.pool} is held by an instance outside every Auto Scaling group",
        )
    named = "; ".join(
        f"{h.instance.instance_id} holds {h.eni.eni_id} ({h.eni.ip})" for h in holders
    )
    ids = " ".join(sorted({h.instance.instance_id for h in holders}))
    return Check(
        "held-outside",
        WARN,
        f"{len(holders)} ENI(s) of pool {d.pool} held by instances in no Auto Scaling group "
        f"(detached?): {named}: the pool lost these addresses",
        fix="give each address back: terminate the instance (aws ec2 terminate-instances "
        f"--instance-ids {ids}), or attach it back to the group (aws autoscaling "
        f"attach-instances --auto-scaling-group-name {d.options.group} --instance-ids {ids})",
        details=[
            f"{h.instance.instance_id} ({h.instance.state}, {h.eni.az}) holds {h.eni.eni_id} "
            f"({h.eni.ip}" + (f", {h.eni.host_name}" if h.eni.host_name else "") + ")"
            for h in holders
        ],
    )
