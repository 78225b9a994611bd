"""Auto Scaling adapter: waiting instances and the lifecycle action."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from fixed_ip.adapters import error_code
from fixed_ip.models import GroupInstance, Hook, ManagedGroup
from fixed_ip.ports import Lifecycle

PENDING_WAIT = "Pending:Wait"


class AutoScalingLifecycle(Lifecycle):
    def __init__(self, client: Any) -> None:
        self.client = client

    def waiting_instances(self, group: str, az: str) -> list[str]:
        resp = self.client.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        return [
            inst["InstanceId"]
            for g in resp.get("AutoScalingGroups", [])
            for inst in g.get("Instances", [])
            if inst.get("AvailabilityZone") == az and inst.get("LifecycleState") == PENDING_WAIT
        ]

    def managed_groups(self, hook_prefix: str) -> list[ManagedGroup]:
        groups = []
        paginator = self.client.get_paginator("describe_auto_scaling_groups")
        for page in paginator.paginate():
            for raw in page.get("AutoScalingGroups", []):
                group = self._managed(raw, hook_prefix)
                if group is not None:
                    groups.append(group)
        return groups

    def managed_group(self, name: str, hook_prefix: str) -> ManagedGroup | None:
        resp = self.client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        for raw in resp.get("AutoScalingGroups", []):
            return self._managed(raw, hook_prefix)
        return None

    def _managed(self, raw: dict[str, Any], hook_prefix: str) -> ManagedGroup | None:
        name = raw["AutoScalingGroupName"]
        hooks = [
            Hook(
                name=h["LifecycleHookName"],
                transition=h["LifecycleTransition"],
                metadata=h.get("NotificationMetadata"),
            )
            for h in self.client.describe_lifecycle_hooks(AutoScalingGroupName=name).get(
                "LifecycleHooks", []
            )
            if h["LifecycleHookName"].startswith(hook_prefix)
        ]
        if not hooks:
            return None
        policy = raw.get("InstanceMaintenancePolicy") or {}
        mhp = policy.get("MaxHealthyPercentage")
        members = [
            GroupInstance(
                instance_id=i["InstanceId"],
                az=i.get("AvailabilityZone", ""),
                lifecycle_state=i.get("LifecycleState", ""),
            )
            for i in raw.get("Instances", [])
        ]
        if raw.get("WarmPoolConfiguration"):
            # Warm pool instances are listed by DescribeWarmPool only (Warmed:* states).
            members += self._warm_pool(name)
        return ManagedGroup(
            name=name,
            max_size=int(raw.get("MaxSize", 0)),
            azs=tuple(raw.get("AvailabilityZones", [])),
            instances=tuple(members),
            hooks=tuple(hooks),
            max_healthy_percentage=int(mhp) if mhp and mhp > 0 else None,
            subnet_ids=tuple(s for s in raw.get("VPCZoneIdentifier", "").split(",") if s),
        )

    def _warm_pool(self, group: str) -> list[GroupInstance]:
        found: list[GroupInstance] = []
        params: dict[str, Any] = {"AutoScalingGroupName": group}
        while True:
            resp = self.client.describe_warm_pool(**params)
            found += [
                GroupInstance(
                    instance_id=i["InstanceId"],
                    az=i.get("AvailabilityZone", ""),
                    lifecycle_state=i.get("LifecycleState", ""),
                )
                for i in resp.get("Instances", [])
            ]
            if not resp.get("NextToken"):
                return found
            params["NextToken"] = resp["NextToken"]

    def _call(self, operation: str, **params: Any) -> bool:
        try:
            getattr(self.client, operation)(**params)
        except ClientError as exc:
            # A well-formed request to these two APIs fails with ValidationError only
            # when no action is active for this token/instance: it was completed already
            # (a duplicate event) or timed out. That is a result, not an error.
            if error_code(exc) == "ValidationError":
                return False
            raise
        return True

    @staticmethod
    def _action(group: str, hook: str, token: str | None, instance_id: str) -> dict[str, str]:
        # Token and instance id together when the token is known (both must match);
        # the instance id alone when the event, and so the token, was lost.
        params = {
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "InstanceId": instance_id,
        }
        if token:
            params["LifecycleActionToken"] = token
        return params

    def heartbeat(self, *, group: str, hook: str, token: str | None, instance_id: str) -> bool:
        return self._call(
            "record_lifecycle_action_heartbeat", **self._action(group, hook, token, instance_id)
        )

    def complete(
        self, *, group: str, hook: str, token: str | None, instance_id: str, result: str
    ) -> bool:
        return self._call(
            "complete_lifecycle_action",
            LifecycleActionResult=result,
            **self._action(group, hook, token, instance_id),
        )
