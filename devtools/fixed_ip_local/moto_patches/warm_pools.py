"""Warm pools for the local simulation: the instance lifecycle moto 5.2 lacks (it keeps a
warm pool's configuration only), layered on `moto_patches`' lifecycle actions.

What is reproduced, after the Auto Scaling user guide ("Use lifecycle hooks with a warm
pool", "Warm pool example events and patterns"):

- an instance launched into the warm pool pauses in ``Warmed:Pending:Wait`` with a launch
  lifecycle action whose event says ``Origin: EC2``, ``Destination: WarmPool``; completing
  it CONTINUE stops the instance (``Warmed:Stopped``), ABANDON terminates it;
- leaving the warm pool for the group, the instance is started and pauses again in
  ``Pending:Wait`` with a launch action of its own: ``Origin: WarmPool``,
  ``Destination: AutoScalingGroup``; from there on it is a group member like any other;
- terminating an instance in the warm pool: ``Warmed:Terminating:Wait`` with a terminate
  action, ``Origin: WarmPool``, ``Destination: EC2``; completing it terminates it;
- warm pool instances are listed by ``DescribeWarmPool``, not in the group's
  ``Instances`` (``DescribeAutoScalingGroups``), and do not count toward its capacity.

The layer wraps three functions of `moto_patches.lifecycle` (state lookup, event queue,
action completion), so the lifecycle module stays as it is; `apply()` installs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.autoscaling.models import ASG_NAME_TAG, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult

from fixed_ip_local.moto_patches import autoscaling as asg
from fixed_ip_local.moto_patches import common, lifecycle

LAUNCHING = lifecycle.LAUNCHING
TERMINATING = lifecycle.TERMINATING
_ATTR = "_fixed_ip_warm"
_override = threading.local()
_applied = False


def _warm(group: FakeAutoScalingGroup) -> list[InstanceState]:
    # On the group object, so that moto's reset wipes it.
    return vars(group).setdefault(_ATTR, [])


def _warm_state(group: FakeAutoScalingGroup, instance_id: str) -> InstanceState | None:
    return next((s for s in _warm(group) if s.instance.id == instance_id), None)


@contextmanager
def _event_route(origin: str, destination: str) -> Iterator[None]:
    """Origin and Destination of the lifecycle events started inside the block."""
    _override.value = {"Origin": origin, "Destination": destination}
    try:
        yield
    finally:
        _override.value = None


def apply() -> None:
    """Install the warm pool layer (idempotent); `moto_patches.apply()` first."""
    global _applied
    from fixed_ip_local import moto_patches

    moto_patches.apply()
    if _applied:
        return
    _applied = True
    state_of, queue_event, finish_action = (
        lifecycle._state_of,
        lifecycle._queue_event,
        lifecycle._finish_action,
    )

    def _state_of(group: FakeAutoScalingGroup, instance_id: str) -> InstanceState | None:
        return state_of(group, instance_id) or _warm_state(group, instance_id)

    def _queue_event(event: dict[str, Any]) -> None:
        route = getattr(_override, "value", None)
        if route:
            event["detail"].update(route)
        queue_event(event)

    def _finish_action(backend: Any, action: Any, result: str) -> None:
        group = backend.autoscaling_groups.get(action.group)
        state = _warm_state(group, action.instance_id) if group else None
        if state is None:
            finish_action(backend, action, result)
            return
        action.state, action.result = "completed", result
        action.completed_at = common._now()
        ec2 = backend.ec2_backend
        if action.transition == LAUNCHING and result == "CONTINUE":
            # "As soon as an instance finishes launching into the warm pool, Amazon EC2
            # Auto Scaling stops or hibernates the instance."
            state.lifecycle_state = "Warmed:Stopped"
            ec2.stop_instances([action.instance_id])
            return
        _warm(group).remove(state)
        ec2.terminate_instances([action.instance_id])

    def describe_warm_pool(self: AutoScalingResponse) -> ActionResult:
        group_name = self._get_param("AutoScalingGroupName")
        config = self.autoscaling_backend.describe_warm_pool(group_name=group_name)
        group = self.autoscaling_backend.autoscaling_groups[group_name]
        instances = [
            {
                "InstanceId": s.instance.id,
                "AvailabilityZone": s.instance.placement,
                "LifecycleState": s.lifecycle_state,
                "HealthStatus": "Healthy",
                "InstanceType": s.instance.instance_type,
            }
            for s in _warm(group)
        ]
        return ActionResult({"WarmPoolConfiguration": config, "Instances": instances})

    lifecycle._state_of = _state_of
    lifecycle._queue_event = _queue_event
    lifecycle._finish_action = _finish_action
    AutoScalingResponse.describe_warm_pool = describe_warm_pool  # type: ignore[method-assign]


def _group(region: str, group_name: str) -> FakeAutoScalingGroup:
    return lifecycle._asg_backend(region, DEFAULT_ACCOUNT_ID).autoscaling_groups[group_name]


def launch_into(region: str, group_name: str, count: int) -> list[str]:
    """Launch `count` instances into the group's warm pool (spread like group launches);
    each pauses in Warmed:Pending:Wait with one launch action per launch hook."""
    apply()
    with common._guard():
        group = _group(region, group_name)
        ec2 = group.autoscaling_backend.ec2_backend
        ids = []
        for subnet_id, zone in asg._spread(group, count):
            reservation = ec2.run_instances(
                group.image_id,
                1,
                group.user_data,
                group.security_groups,
                instance_type=group.instance_type,
                tags={"instance": {ASG_NAME_TAG: group.name}},
                placement=zone,
                launch_config=group.launch_config,
                launch_template={"LaunchTemplateId": group.ec2_launch_template.id},
                is_instance_type_default=False,
                subnet_id=subnet_id,
            )
            for instance in reservation.instances:
                instance.autoscaling_group = group
                state = InstanceState(instance, lifecycle_state="Warmed:Pending:Wait")
                _warm(group).append(state)
                ids.append(instance.id)
                with _event_route("EC2", "WarmPool"):
                    for hook in lifecycle._hooks(group.autoscaling_backend, group.name, LAUNCHING):
                        lifecycle._start_action(group, state, hook, LAUNCHING)
        return ids


def leave(region: str, group_name: str, instance_id: str) -> None:
    """The group draws one warmed instance (a scale-out by one): it is started and pauses
    in Pending:Wait with a launch action of its own (Origin WarmPool)."""
    apply()
    with common._guard():
        group = _group(region, group_name)
        state = _warm_state(group, instance_id)
        if state is None or state.lifecycle_state != "Warmed:Stopped":
            raise ValueError(f"{instance_id} is not a stopped instance of the warm pool")
        _warm(group).remove(state)
        group.autoscaling_backend.ec2_backend.start_instances([instance_id])
        hooks = lifecycle._hooks(group.autoscaling_backend, group.name, LAUNCHING)
        state.lifecycle_state = "Pending:Wait" if hooks else "InService"
        group.instance_states.append(state)
        group.desired_capacity = (group.desired_capacity or 0) + 1
        with _event_route("WarmPool", "AutoScalingGroup"):
            for hook in hooks:
                lifecycle._start_action(group, state, hook, LAUNCHING)


def terminate(region: str, group_name: str, instance_id: str) -> None:
    """Terminate an instance of the warm pool (the pool shrinks): Warmed:Terminating:Wait
    with a terminate action per terminate hook (Origin WarmPool, Destination EC2)."""
    apply()
    with common._guard():
        group = _group(region, group_name)
        state = _warm_state(group, instance_id)
        if state is None:
            raise ValueError(f"{instance_id} is not in the warm pool")
        hooks = lifecycle._hooks(group.autoscaling_backend, group.name, TERMINATING)
        if not hooks:
            _warm(group).remove(state)
            group.autoscaling_backend.ec2_backend.terminate_instances([instance_id])
            return
        state.lifecycle_state = "Warmed:Terminating:Wait"
        with _event_route("WarmPool", "EC2"):
            for hook in hooks:
                lifecycle._start_action(group, state, hook, TERMINATING)


def states(region: str, group_name: str) -> dict[str, str]:
    """Warm pool instance id -> lifecycle state."""
    with common.LOCK:
        return {s.instance.id: s.lifecycle_state for s in _warm(_group(region, group_name))}
