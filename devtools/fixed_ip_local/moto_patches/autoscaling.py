"""Auto Scaling groups: launches spread by Availability Zone and gated by launch hooks,
desired capacity and scale-in as AWS counts them, terminations through terminate hooks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from moto.autoscaling.exceptions import ValidationError as AutoScalingValidationError
from moto.autoscaling.models import (
    ASG_NAME_TAG,
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    TerminateInstanceActivity,
)

from fixed_ip_local.moto_patches.common import (
    _CAPACITY_STATES,
    _LEAVING_STATES,
    LAUNCHING,
    TERMINATING,
    _guard,
    _tls,
)
from fixed_ip_local.moto_patches.lifecycle import (
    _cancel_actions,
    _capacity_states,
    _hooks,
    _refresh_load_balancers,
    _remove_and_terminate,
    _start_action,
)


def _begin_termination(group: FakeAutoScalingGroup, victims: list[InstanceState]) -> None:
    backend = group.autoscaling_backend
    bypass = getattr(_tls, "bypass_terminate_hooks", False)
    hooks = [] if bypass else _hooks(backend, group.name, TERMINATING)
    if not hooks:
        _remove_and_terminate(group, victims)
        return
    for state in victims:
        _cancel_actions(backend, state.instance.id, LAUNCHING)
        state.lifecycle_state = "Terminating:Wait"
        for hook in hooks:
            _start_action(group, state, hook, TERMINATING)
    _refresh_load_balancers(group)


def _pick_victims(group: FakeAutoScalingGroup, count: int) -> list[InstanceState]:
    """Scale-in choice of the default termination policy, first step: take from the
    Availability Zone with the most instances (ties: the later zone), oldest first."""
    candidates = [s for s in _capacity_states(group) if not s.protected_from_scale_in]
    zone_order = list(
        dict.fromkeys([*group.availability_zones, *(s.availability_zone for s in candidates)])
    )
    victims: list[InstanceState] = []
    while candidates and len(victims) < count:
        per_zone = Counter(s.availability_zone for s in candidates)
        zone = max(per_zone, key=lambda z: (per_zone[z], zone_order.index(z)))
        victim = next(s for s in candidates if s.availability_zone == zone)
        victims.append(victim)
        candidates.remove(victim)
    return victims


def _replace_instances(_original: Callable[..., Any]) -> Callable[..., Any]:
    """Group launches, as AWS does them:

    - spread over the group's subnets (VPCZoneIdentifier), each new instance going to the
      Availability Zone with the fewest instances of the group, then to that zone's subnet
      with the fewest (Auto Scaling "balances capacity across Availability Zones"); moto puts
      every instance in the first subnet;
    - with a lifecycle hook for ``autoscaling:EC2_INSTANCE_LAUNCHING``, each new instance
      enters ``Pending:Wait`` with one lifecycle action (fresh token) per hook and one
      EventBridge event "EC2 Instance-launch Lifecycle Action" per action.
    Mirrors moto 5.2.5's ``replace_autoscaling_group_instances`` otherwise.
    """

    def replace_autoscaling_group_instances(
        self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]
    ) -> None:
        with _guard():
            backend = self.autoscaling_backend
            ec2 = backend.ec2_backend
            propagated_tags[ASG_NAME_TAG] = self.name
            propagated_tags.update(self.instance_tags)
            associate_public_ip = (
                self.launch_config.associate_public_ip_address if self.launch_config else None
            )
            launch_template = None
            if self.ec2_launch_template:
                if self.ec2_launch_template.id:
                    launch_template = {"LaunchTemplateId": self.ec2_launch_template.id}
                elif self.ec2_launch_template.name:
                    launch_template = {"LaunchTemplateName": self.ec2_launch_template.name}
            new_states: list[InstanceState] = []
            for (subnet_id, zone), count in Counter(_spread(self, count_needed)).items():
                reservation = ec2.run_instances(
                    self.image_id,
                    count,
                    self.user_data,
                    self.security_groups,
                    instance_type=self.instance_type,
                    tags={"instance": dict(propagated_tags)},
                    placement=zone,
                    launch_config=self.launch_config,
                    launch_template=launch_template,
                    is_instance_type_default=False,
                    associate_public_ip=associate_public_ip,
                    subnet_id=subnet_id,
                )
                for instance in reservation.instances:
                    instance.autoscaling_group = self
                    state = InstanceState(
                        instance,
                        protected_from_scale_in=self.new_instances_protected_from_scale_in,
                    )
                    self.instance_states.append(state)
                    new_states.append(state)
            hooks = _hooks(backend, self.name, LAUNCHING)
            if hooks:
                for state in new_states:
                    state.lifecycle_state = "Pending:Wait"
                    for hook in hooks:
                        _start_action(self, state, hook, LAUNCHING)

    return replace_autoscaling_group_instances


def _spread(group: FakeAutoScalingGroup, count: int) -> list[tuple[str | None, str]]:
    ec2 = group.autoscaling_backend.ec2_backend
    subnet_ids = [s.strip() for s in (group.vpc_zone_identifier or "").split(",") if s.strip()]
    slots: list[tuple[str | None, str]]
    if subnet_ids:
        slots = [(sid, ec2.get_subnet(sid).availability_zone) for sid in subnet_ids]
    else:
        slots = [(None, zone) for zone in group.availability_zones]
    zones = list(dict.fromkeys(zone for _, zone in slots))
    per_zone: Counter[str] = Counter()
    per_subnet: Counter[str | None] = Counter()
    for state in group.instance_states:
        if state.lifecycle_state not in _LEAVING_STATES:
            per_zone[state.availability_zone] += 1
            per_subnet[state.instance.subnet_id] += 1
    chosen: list[tuple[str | None, str]] = []
    for _ in range(count):
        zone = min(zones, key=lambda z: (per_zone[z], zones.index(z)))
        slot = min(
            (s for s in slots if s[1] == zone),
            key=lambda s: (per_subnet[s[0]], slots.index(s)),
        )
        per_zone[zone] += 1
        per_subnet[slot[0]] += 1
        chosen.append(slot)
    return chosen


def _set_desired_capacity(original: Callable[..., Any]) -> Callable[..., Any]:
    """Desired capacity as AWS counts it: instances in Pending, Pending:Wait and InService
    count toward it, terminating ones do not. Scale-in takes instances from the
    Availability Zone with the most instances; with a lifecycle hook for
    ``autoscaling:EC2_INSTANCE_TERMINATING`` they enter ``Terminating:Wait`` (one action and
    one "EC2 Instance-terminate Lifecycle Action" event per hook) and are terminated when
    their actions complete. Groups with a MixedInstancesPolicy keep moto's weighted
    arithmetic (instances in wait states are hidden from it)."""

    def set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
        with _guard():
            if self.mixed_instances_policy:
                leaving = [s for s in self.instance_states if s.lifecycle_state in _LEAVING_STATES]
                self.instance_states = [s for s in self.instance_states if s not in leaving]
                try:
                    original(self, new_capacity)
                finally:
                    self.instance_states = [*self.instance_states, *leaving]
                return
            self.desired_capacity = self.min_size if new_capacity is None else new_capacity
            delta = (self.desired_capacity or 0) - len(_capacity_states(self))
            if delta > 0:
                self.replace_autoscaling_group_instances(delta, self.get_propagated_tags())
            elif delta < 0:
                _begin_termination(self, _pick_victims(self, -delta))
            _refresh_load_balancers(self)

    return set_desired_capacity


def _notify_terminate_instances(_original: Callable[..., Any]) -> Callable[..., Any]:
    """EC2 TerminateInstances on group members: the group drops them and, to keep its
    desired capacity, launches replacements for those that counted toward it (pending or
    in service, including ``Pending:Wait``)."""

    def notify_terminate_instances(self: AutoScalingBackend, instance_ids: list[str]) -> None:
        with _guard():
            for group in list(self.autoscaling_groups.values()):
                gone = [s for s in group.instance_states if s.instance.id in instance_ids]
                if not gone:
                    continue
                counted = sum(1 for s in gone if s.lifecycle_state in _CAPACITY_STATES)
                group.instance_states = [s for s in group.instance_states if s not in gone]
                for state in gone:
                    _cancel_actions(self, state.instance.id)
                if counted:
                    group.replace_autoscaling_group_instances(counted, group.get_propagated_tags())
                _refresh_load_balancers(group)

    return notify_terminate_instances


def _terminate_instance(original: Callable[..., Any]) -> Callable[..., Any]:
    """TerminateInstanceInAutoScalingGroup: with a lifecycle hook for
    ``autoscaling:EC2_INSTANCE_TERMINATING`` the instance enters ``Terminating:Wait`` first
    (Auto Scaling user guide, lifecycle hooks); with ShouldDecrementDesiredCapacity false a
    replacement is launched. An unknown instance fails ``ValidationError``."""

    def terminate_instance(
        self: AutoScalingBackend, instance_id: str, should_decrement: bool
    ) -> Any:
        with _guard():
            state = next(
                (
                    s
                    for g in self.autoscaling_groups.values()
                    for s in g.instance_states
                    if s.instance.id == instance_id
                ),
                None,
            )
            if state is None:
                raise AutoScalingValidationError(
                    f"Instance Id not found - No managed instance found for instance ID: "
                    f"{instance_id}"
                )
            group = state.auto_scaling_group
            original_size = group.desired_capacity
            if state.lifecycle_state in _LEAVING_STATES:
                return TerminateInstanceActivity(state.instance, original_size)
            if not _hooks(self, group.name, TERMINATING):
                return original(self, instance_id, should_decrement)
            _begin_termination(group, [state])
            if should_decrement:
                group.desired_capacity = original_size - 1
            group.set_desired_capacity(group.desired_capacity)
            return TerminateInstanceActivity(state.instance, original_size)

    return terminate_instance


def _detach_instances(original: Callable[..., Any]) -> Callable[..., Any]:
    """DetachInstances: a detached instance leaves the group, so its lifecycle actions stop
    being active."""

    def detach_instances(
        self: AutoScalingBackend, group_name: str, instance_ids: list[str], should_decrement: bool
    ) -> Any:
        with _guard():
            for instance_id in instance_ids:
                _cancel_actions(self, instance_id)
            return original(self, group_name, instance_ids, should_decrement)

    return detach_instances


def _delete_auto_scaling_group(original: Callable[..., Any]) -> Callable[..., Any]:
    """DeleteAutoScalingGroup (with ForceDelete semantics, as moto always deletes): "deletes
    the group along with all instances associated with the group, without waiting for all
    instances to be terminated. This action also deletes any outstanding lifecycle actions
    associated with the group." The group's lifecycle hooks are deleted with it."""

    def delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
        with _guard():
            group = self.autoscaling_groups.get(group_name)
            if group is not None:
                for state in list(group.instance_states):
                    _cancel_actions(self, state.instance.id)
                _remove_and_terminate(
                    group,
                    [s for s in group.instance_states if s.lifecycle_state in _LEAVING_STATES],
                )
            _tls.bypass_terminate_hooks = True
            try:
                original(self, group_name)
            finally:
                _tls.bypass_terminate_hooks = False
            for key in [
                k
                for k, h in self.lifecycle_hooks.items()
                if h.auto_scaling_group_name == group_name
            ]:
                del self.lifecycle_hooks[key]

    return delete_auto_scaling_group
