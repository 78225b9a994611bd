"""The EventBridge events the functions receive, built in one place.

The simulated Auto Scaling (moto_patches), the simulation, the benchmark and the tests all
build their lifecycle events here, so that they agree with each other and with
events/launch.json (a test checks that file against :func:`lifecycle_event`).

Shape (Auto Scaling user guide, "Amazon EventBridge events for lifecycle hooks"): ``source``
``aws.autoscaling``, detail-type ``EC2 Instance-launch Lifecycle Action`` or
``EC2 Instance-terminate Lifecycle Action``, ``resources`` the group's ARN, and a detail with
LifecycleActionToken, AutoScalingGroupName, LifecycleHookName, EC2InstanceId,
LifecycleTransition, Origin/Destination and, when the hook has one, NotificationMetadata.
"""

from __future__ import annotations

import time
from typing import Any

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
DETAIL_TYPES = {
    LAUNCHING: "EC2 Instance-launch Lifecycle Action",
    TERMINATING: "EC2 Instance-terminate Lifecycle Action",
}
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "ap-northeast-1"


def _iso_z(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if epoch is None else epoch))


def group_arn(group: str, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> str:
    """An Auto Scaling group ARN of the shape AWS uses (the id part is fixed here)."""
    return (
        f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:"
        f"59fe4a87-3b8c-4e0f-8f6a-2ad3b0a7e1c4:autoScalingGroupName/{group}"
    )


def lifecycle_event(
    transition: str,
    *,
    instance_id: str,
    group: str,
    hook: str,
    token: str,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    resource: str | None = None,
    at: float | None = None,
    event_id: str = "12345678-1234-1234-1234-123456789012",
    metadata: str | None = None,
) -> dict[str, Any]:
    """The event EventBridge delivers for one lifecycle action of ``transition``
    (LAUNCHING or TERMINATING). ``resource`` is the group's ARN (default: one built from
    ``group``), ``at`` the event time (epoch seconds; default now), ``metadata`` the hook's
    NotificationMetadata (a string, left out when None, as AWS does)."""
    if transition not in DETAIL_TYPES:
        raise ValueError(f"transition must be one of {sorted(DETAIL_TYPES)}, not {transition!r}")
    launch = transition == LAUNCHING
    # Key order as in AWS's own examples (a test checks it): metadata, when the hook has
    # some, before Origin; warm pools aside, a launch goes EC2 -> group, a termination back.
    detail: dict[str, Any] = {
        "LifecycleActionToken": token,
        "AutoScalingGroupName": group,
        "LifecycleHookName": hook,
        "EC2InstanceId": instance_id,
        "LifecycleTransition": transition,
        **({} if metadata is None else {"NotificationMetadata": metadata}),
        "Origin": "EC2" if launch else "AutoScalingGroup",
        "Destination": "AutoScalingGroup" if launch else "EC2",
    }
    return {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPES[transition],
        "source": "aws.autoscaling",
        "account": account,
        "time": _iso_z(at),
        "region": region,
        "resources": [resource or group_arn(group, region, account)],
        "detail": detail,
    }


def scheduled_event(
    region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT, event_id: str = "sweep"
) -> dict[str, Any]:
    """One EventBridge Scheduler tick, as the sweeper receives it."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": _iso_z(None),
        "region": region,
        "resources": [],
        "detail": {},
    }
