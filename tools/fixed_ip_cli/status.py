"""`fixed-ip pool status`: every pool ENI with its holder, per pool and AZ, with totals.
Read-only. ENIs come through the controller's EC2 adapter (`CliEc2`) and are counted with
the library's capacity rules (`capacity.pool_totals`). A primary interface that carries
the pool tag (a launch template tagging every interface) is never a fixed address: it is
left out, as the controller leaves it out."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fixed_ip.capacity import host_name_ok
from fixed_ip.models import Instance
from fixed_ip_cli import awsutil
from fixed_ip_cli.awsutil import aws_errors
from fixed_ip_cli.capacity import pool_totals
from fixed_ip_cli.enis import DEFAULT_HOST_NAME_TAG, CliEc2, Eni

# DescribeAutoScalingInstances takes at most 50 instance ids per call.
_ASG_BATCH = 50


def pool_status(
    session: Any, pool: str | None = None, host_name_tag: str = DEFAULT_HOST_NAME_TAG
) -> dict[str, Any]:
    """Every ENI of `pool` (or of every pool), grouped by pool and AZ, with totals; and
    when `pool` has none, the names of the pools that do exist (`others`)."""
    ec2 = CliEc2(awsutil.client(session, "ec2"), hostname_tag_key=host_name_tag)
    with aws_errors("listing pool ENIs"):
        enis: list[Eni] = ec2.pool(pool) if pool is not None else ec2.every_pool()
        others = sorted({e.pool or "" for e in ec2.every_pool()}) if pool and not enis else []
    holders = sorted({e.instance_id for e in enis if e.instance_id})
    instances, lifecycle = _describe_holders(session, ec2, holders)

    by_pool: dict[str, list[Eni]] = defaultdict(list)
    for eni in enis:
        by_pool[eni.pool or ""].append(eni)
    out = []
    for name in sorted(by_pool):
        azs = []
        for az, cap in pool_totals(by_pool[name]).items():
            rows = [
                _row(e, instances, lifecycle)
                for e in sorted(by_pool[name], key=lambda e: e.ip_key)
                if e.az == az and not e.primary
            ]
            azs.append(
                {
                    "az": az,
                    "total": cap.total,
                    "in_use": cap.in_use,
                    "free": cap.free,
                    "invalid_host_name": len(cap.refused),
                    "enis": rows,
                }
            )
        out.append({"pool": name, "azs": azs})
    return {"pools": out, "others": others}


def _row(
    eni: Eni, instances: dict[str, Instance], lifecycle: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    holder = eni.instance_id
    instance = instances.get(holder or "")
    asg = lifecycle.get(holder or "", {})
    if holder and asg:
        state = asg.get("LifecycleState")
    elif holder and instance:
        state = f"{instance.state} (no group)"
    elif holder:
        state = "not found"
    else:
        state = None
    return {
        "eni_id": eni.eni_id,
        "ip": eni.ip,
        "host_name": eni.host_name,
        "host_name_valid": host_name_ok(eni.host_name),
        "state": eni.status,
        "instance_id": holder,
        "lifecycle_state": state,
        "group": asg.get("AutoScalingGroupName") or (instance.group if instance else None),
        "attached_since": eni.attached_at,
        "device_index": eni.device_index,
        "subnet_id": eni.subnet_id,
        "vpc_id": eni.vpc_id,
    }


def _describe_holders(
    session: Any, ec2: CliEc2, instance_ids: list[str]
) -> tuple[dict[str, Instance], dict[str, dict[str, Any]]]:
    """The holders as EC2 sees them (the adapter's `Instance`: state, group tag) and as
    Auto Scaling does (lifecycle state)."""
    if not instance_ids:
        return {}, {}
    autoscaling = awsutil.client(session, "autoscaling")
    lifecycle: dict[str, dict[str, Any]] = {}
    with aws_errors("describing the instances that hold pool ENIs"):
        instances = {i.instance_id: i for i in ec2.describe_instances(instance_ids)}
        for start in range(0, len(instance_ids), _ASG_BATCH):
            chunk = instance_ids[start : start + _ASG_BATCH]
            for item in autoscaling.describe_auto_scaling_instances(InstanceIds=chunk)[
                "AutoScalingInstances"
            ]:
                lifecycle[item["InstanceId"]] = item
    return instances, lifecycle
