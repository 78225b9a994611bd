"""Discovery of the group's side: the Auto Scaling group, its hooks, the pool it uses,
its subnets and the pool's ENIs (through the controller's EC2 adapter, as `Eni`s)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fixed_ip.errors import InvalidEvent
from fixed_ip.leaks import GONE_STATES
from fixed_ip.models import LAUNCHING, HookMetadata, Instance
from fixed_ip_cli.awsutil import aws_errors, paginate
from fixed_ip_cli.doctor.model import Options
from fixed_ip_cli.enis import DEFAULT_MAX_HEALTHY_PERCENT, CliEc2, Eni

# DescribeAutoScalingInstances takes at most 50 instance ids per call.
_ASG_BATCH = 50


@dataclass(frozen=True)
class OutsideHolder:
    """A pool ENI held by a live instance that no Auto Scaling group lists (detached from
    the group, or never in one): the pool lost that address until someone acts."""

    eni: Eni
    instance: Instance


def hook_metadata(hook: dict[str, Any]) -> HookMetadata | str:
    """The hook's metadata as the controller parses it, or why the controller refuses it."""
    try:
        return HookMetadata.from_notification(hook.get("NotificationMetadata"))
    except InvalidEvent as exc:
        return str(exc)


class GroupState:
    """Mixed into `Deployment`, which provides `options`, `client()`, and the controller's
    `hook_prefix`, `host_name_tag` and `stack_parameter()`."""

    options: Options
    hook_prefix: str
    host_name_tag: str

    def client(self, service: str) -> Any:  # pragma: no cover - Deployment's
        raise NotImplementedError

    def stack_parameter(self, key: str) -> str | None:  # pragma: no cover - Deployment's
        raise NotImplementedError

    @cached_property
    def group(self) -> dict[str, Any] | None:
        autoscaling = self.client("autoscaling")
        with aws_errors(f"describing Auto Scaling group {self.options.group}"):
            found = autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=[self.options.group]
            )["AutoScalingGroups"]
        return found[0] if found else None

    @property
    def max_healthy_percent(self) -> int:
        """As the sweeper computes capacity: the group's own InstanceMaintenancePolicy,
        else the stack's MaxHealthyPercent, else the template's default."""
        if self.options.max_healthy_percent is not None:
            return self.options.max_healthy_percent
        policy = (self.group or {}).get("InstanceMaintenancePolicy", {})
        own = policy.get("MaxHealthyPercentage")
        if own is not None and int(own) >= 100:
            return int(own)
        stack = self.stack_parameter("MaxHealthyPercent")
        return int(stack) if stack else DEFAULT_MAX_HEALTHY_PERCENT

    @cached_property
    def hooks(self) -> list[dict[str, Any]]:
        if self.group is None:
            return []
        autoscaling = self.client("autoscaling")
        with aws_errors(f"listing the lifecycle hooks of {self.options.group}"):
            return list(
                autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=self.options.group)[
                    "LifecycleHooks"
                ]
            )

    def prefixed_hooks(self, transition: str) -> list[dict[str, Any]]:
        return [
            h
            for h in self.hooks
            if h["LifecycleTransition"] == transition
            and h["LifecycleHookName"].startswith(self.hook_prefix)
        ]

    @cached_property
    def pool(self) -> str:
        """The pool the controller uses for this group: --pool, else the launch hook's
        metadata, else the group's name (the controller's own rule)."""
        if self.options.pool:
            return self.options.pool
        for hook in self.prefixed_hooks(LAUNCHING):
            metadata = hook_metadata(hook)
            if isinstance(metadata, HookMetadata) and metadata.pool:
                return metadata.pool
        return self.options.group

    @cached_property
    def subnets(self) -> list[dict[str, Any]]:
        ids = [s for s in (self.group or {}).get("VPCZoneIdentifier", "").split(",") if s]
        if not ids:
            return []
        with aws_errors(f"describing the subnets of {self.options.group}"):
            return paginate(
                self.client("ec2"),
                "describe_subnets",
                "Subnets",
                Filters=[{"Name": "subnet-id", "Values": ids}],
            )

    @property
    def group_azs(self) -> dict[str, list[dict[str, Any]]]:
        """The group's subnets by AZ."""
        by_az: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for subnet in self.subnets:
            by_az[subnet["AvailabilityZone"]].append(subnet)
        return by_az

    @cached_property
    def ec2(self) -> CliEc2:
        return CliEc2(self.client("ec2"), hostname_tag_key=self.host_name_tag)

    @cached_property
    def pool_enis(self) -> list[Eni]:
        with aws_errors(f"listing the ENIs of pool {self.pool}"):
            return self.ec2.pool(self.pool)

    @cached_property
    def other_pools(self) -> list[str]:
        """Names of the pools that exist in the region (a hint when ours has no ENI)."""
        with aws_errors("listing pool ENIs"):
            enis = self.ec2.every_pool()
        return sorted({e.pool or "" for e in enis} - {self.pool})

    @cached_property
    def warm_pool_ids(self) -> frozenset[str]:
        """The group's warm pool instances (DescribeAutoScalingGroups does not list them)."""
        if not (self.group or {}).get("WarmPoolConfiguration"):
            return frozenset()
        autoscaling = self.client("autoscaling")
        found: set[str] = set()
        params: dict[str, Any] = {"AutoScalingGroupName": self.options.group}
        with aws_errors(f"describing the warm pool of {self.options.group}"):
            while True:
                page = autoscaling.describe_warm_pool(**params)
                found |= {i["InstanceId"] for i in page.get("Instances", [])}
                if not page.get("NextToken"):
                    return frozenset(found)
                params["NextToken"] = page["NextToken"]

    @cached_property
    def outside_holders(self) -> list[OutsideHolder]:
        """Pool ENIs held by live instances (running or stopped) in no Auto Scaling group,
        as the sweeper reports them (`eni_held_outside_group`). The group's own instances,
        its warm pool's and those of any other group are left out (another group sharing
        the pool uses its addresses as it should); so are instances shutting down or
        terminated, whose ENI the sweeper gives back."""
        members = {i["InstanceId"] for i in (self.group or {}).get("Instances", [])}
        members |= self.warm_pool_ids
        candidates = [e for e in self.pool_enis if e.held and e.instance_id not in members]
        if not candidates:
            return []
        ids = sorted({e.instance_id for e in candidates if e.instance_id})
        autoscaling = self.client("autoscaling")
        in_a_group: set[str] = set()
        with aws_errors("describing the instances that hold pool ENIs"):
            # Read after the ENIs: an instance that joined a group meanwhile is in one here.
            for start in range(0, len(ids), _ASG_BATCH):
                chunk = ids[start : start + _ASG_BATCH]
                found = autoscaling.describe_auto_scaling_instances(InstanceIds=chunk)
                in_a_group |= {i["InstanceId"] for i in found["AutoScalingInstances"]}
            live = {
                i.instance_id: i
                for i in self.ec2.describe_instances([i for i in ids if i not in in_a_group])
                if i.state not in GONE_STATES
            }
        return [
            OutsideHolder(eni=e, instance=live[e.instance_id])
            for e in sorted(candidates, key=lambda e: (e.az, e.ip_key))
            if e.instance_id in live
        ]
