"""From a validated lifecycle event to a use case's request: only launch (or terminate)
actions of managed hooks; a hook whose metadata is wrong raises InvalidMetadata."""

from __future__ import annotations

from fixed_ip.errors import InvalidEvent
from fixed_ip.models import (
    LAUNCH_DETAIL_TYPE,
    LAUNCHING,
    TERMINATE_DETAIL_TYPE,
    TERMINATING,
    HookMetadata,
    LaunchRequest,
    LifecycleDetail,
    LifecycleEvent,
    TerminateRequest,
)
from fixed_ip.settings import Settings


def launch_request(event: LifecycleEvent, settings: Settings) -> LaunchRequest:
    """The use case's input from a validated event; InvalidEvent when it is not a launch
    action of a managed hook, or its metadata is wrong."""
    # Before the metadata: a foreign group's misconfigured hook is not ours to ABANDON.
    detail = _managed_action(event, "launch", LAUNCH_DETAIL_TYPE, LAUNCHING, settings)
    metadata = HookMetadata.from_notification(detail.NotificationMetadata)
    return LaunchRequest(
        instance_id=detail.EC2InstanceId,
        group=detail.AutoScalingGroupName,
        hook=detail.LifecycleHookName,
        token=detail.LifecycleActionToken,
        pool=metadata.pool_for(detail.AutoScalingGroupName),
        device_index=metadata.device_index or settings.device_index,
        event_time=event.time,
        to_warm_pool=detail.Destination == "WarmPool",
        on_exhausted=metadata.on_exhausted,
    )


def terminate_request(event: LifecycleEvent, settings: Settings) -> TerminateRequest:
    detail = _managed_action(event, "terminate", TERMINATE_DETAIL_TYPE, TERMINATING, settings)
    return TerminateRequest(
        instance_id=detail.EC2InstanceId,
        group=detail.AutoScalingGroupName,
        hook=detail.LifecycleHookName,
        token=detail.LifecycleActionToken,
    )


def _managed_action(
    event: LifecycleEvent, kind: str, detail_type: str, transition: str, settings: Settings
) -> LifecycleDetail:
    """The event's detail when it is a `kind` (launch, terminate) action of a managed hook
    of a managed group; InvalidEvent otherwise."""
    detail = event.detail
    if event.detail_type != detail_type or detail.LifecycleTransition != transition:
        raise InvalidEvent(
            f"this function handles {kind} lifecycle actions; got {event.detail_type!r} "
            f"({detail.LifecycleTransition})"
        )
    _check_managed(detail.LifecycleHookName, detail.AutoScalingGroupName, settings)
    return detail


def _check_managed(hook: str, group: str, settings: Settings) -> None:
    if not hook.startswith(settings.hook_prefix):
        raise InvalidEvent(
            f"hook {hook!r} is not managed: managed hook names start with {settings.hook_prefix!r}"
        )
    if not settings.manages(group):
        raise InvalidEvent(
            f"group {group!r} is not managed by this stack: it does not match "
            f"ManagedGroupPattern {settings.managed_group_pattern!r}"
        )
