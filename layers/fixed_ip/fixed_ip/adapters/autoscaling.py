"""Auto Scaling adapter: waiting instances and the lifecycle action."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from fixed_ip.adapters import error_code
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

    def heartbeat(self, *, group: str, hook: str, token: str, instance_id: str) -> bool:
        return self._call(
            "record_lifecycle_action_heartbeat",
            AutoScalingGroupName=group,
            LifecycleHookName=hook,
            LifecycleActionToken=token,
            InstanceId=instance_id,
        )

    def complete(self, *, group: str, hook: str, token: str, instance_id: str, result: str) -> bool:
        return self._call(
            "complete_lifecycle_action",
            AutoScalingGroupName=group,
            LifecycleHookName=hook,
            LifecycleActionToken=token,
            LifecycleActionResult=result,
            InstanceId=instance_id,
        )
