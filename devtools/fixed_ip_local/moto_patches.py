"""Fidelity patches for moto 5.2.x: the AWS behaviours fixed-ip relies on and moto lacks.

Call :func:`apply` once per process (it is idempotent). The patches replace methods on moto's
backend and response *classes*, so they hold for ``moto.mock_aws`` (decorator or context
manager) and for a ``ThreadedMotoServer`` started in the same process; a separate
``moto_server`` process cannot be patched.

What is reproduced (each patched function cites the AWS behaviour in its docstring):

- EC2 ``AttachNetworkInterface`` refuses an interface already attached
  (``InvalidNetworkInterface.InUse``), a device index already taken or an interface from
  another Availability Zone (``InvalidParameterValue``), and an instance that is not
  pending, running or stopped (``IncorrectInstanceState``). Its attachments have
  ``DeleteOnTermination`` false.
- Terminating an instance releases its secondary interfaces whose ``DeleteOnTermination`` is
  false: they become ``available``.
- Auto Scaling lifecycle hooks: launches go to ``Pending:Wait``, scale-in to
  ``Terminating:Wait``, each with a lifecycle action (token) and an EventBridge-shaped event
  handed to the listeners; ``CompleteLifecycleAction`` and ``RecordLifecycleActionHeartbeat``
  exist; ``NotificationMetadata`` and ``LifecycleHookSpecificationList`` are kept.
- Group launches are spread over the group's subnets, balanced by Availability Zone.
- SSM: ``DescribeInstanceInformation`` and ``ListCommandInvocations`` exist; ``SendCommand``
  refuses instances that are not managed and online (``InvalidInstanceId``) and parameters
  that do not fit the document (``InvalidParameters``); command outcomes are configurable
  (``Success`` / ``Failed`` / ``TimedOut`` / ``Cancelled``, optionally after an
  ``InProgress`` period) and a successful ``HostName`` command sets a fake OS host name.

State per account and region lives on moto's backend objects (attributes set lazily on the
Auto Scaling and SSM backends and on EC2 instances), so moto's reset between tests wipes it.
Module-level settings (listeners, auto-registration delay, clock) are process-wide: tests
that change them restore them.

Thread safety: moto's backends are plain Python objects. Every request to EC2, Auto Scaling
and SSM, and every patched mutation, runs under one module-level ``threading.RLock``
(:data:`LOCK`). Lifecycle listeners are called after that lock is released.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from moto.autoscaling.exceptions import ValidationError as AutoScalingValidationError
from moto.autoscaling.models import (
    ASG_NAME_TAG,
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    LifecycleHook,
    TerminateInstanceActivity,
    autoscaling_backends,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import EC2ClientError, InvalidParameterValue
from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.instances import Instance
from moto.ec2.models.subnets import Subnet
from moto.ec2.responses import EC2Response
from moto.moto_api._internal import mock_random
from moto.ssm.exceptions import InvalidFilterKey, SSMException
from moto.ssm.models import Command, SimpleSystemManagerBackend, ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from fixed_ip_local import moto_events

__all__ = [
    "LAUNCHING",
    "LOCK",
    "TERMINATING",
    "active_token",
    "add_lifecycle_listener",
    "apply",
    "clear_lifecycle_listeners",
    "expire_lifecycle_actions",
    "lifecycle_actions",
    "os_hostname",
    "register_managed_instance",
    "set_auto_register",
    "set_clock",
    "set_command_outcome",
]

logger = logging.getLogger(__name__)

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"

#: One lock for every patched mutation and every EC2 / Auto Scaling / SSM request.
LOCK = threading.RLock()

DEFAULT_REGION = "ap-northeast-1"
AGENT_VERSION = "3.3.1957.0"

# Auto Scaling lifecycle states that count toward the group's capacity (AWS counts pending
# and in-service instances; Standby and terminating ones do not).
_CAPACITY_STATES = frozenset({"Pending", "Pending:Wait", "Pending:Proceed", "InService"})
_LEAVING_STATES = frozenset(
    {"Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated"}
)
_ATTACHABLE_INSTANCE_STATES = frozenset({"pending", "running", "stopped"})
_COMMAND_STATUSES = {
    # status: (StatusDetails, ResponseCode)
    "Success": ("Success", 0),
    "Failed": ("Failed", 1),
    "TimedOut": ("ExecutionTimedOut", -1),
    "Cancelled": ("Cancelled", -1),
}

# ---------------------------------------------------------------------------------------
# Module-level settings (process-wide, not AWS state)
# ---------------------------------------------------------------------------------------

_listeners: list[Callable[[dict[str, Any]], None]] = []
_auto_register_delay: float | None = 0.0
_clock: Callable[[], float] = time.time
_tls = threading.local()
_applied = False


def _now() -> float:
    return _clock()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _iso_z(ts: float) -> str:
    return _dt(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _region(region: str | None) -> str:
    return region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def set_clock(clock: Callable[[], float] | None) -> None:
    """Use ``clock()`` (epoch seconds) for agent registration, command delays and hook
    timeouts instead of ``time.time``; ``None`` restores ``time.time``."""
    global _clock
    _clock = clock or time.time


def add_lifecycle_listener(callback: Callable[[dict[str, Any]], None]) -> None:
    """Call ``callback(event)`` for every new lifecycle action, with the event EventBridge
    would deliver. Called after the request that caused it, outside :data:`LOCK`; an
    exception in a callback is logged and does not fail the request (EventBridge delivery
    is decoupled from the Auto Scaling API)."""
    with LOCK:
        _listeners.append(callback)


def clear_lifecycle_listeners() -> None:
    """Remove every listener added by :func:`add_lifecycle_listener`."""
    with LOCK:
        _listeners.clear()


def set_auto_register(online_after_seconds: float | None) -> None:
    """Register every EC2 instance launched from now on as an SSM managed instance whose agent
    comes online ``online_after_seconds`` after launch; ``None`` stops auto-registration.
    Default: 0.0 (online at once)."""
    global _auto_register_delay
    _auto_register_delay = online_after_seconds


# ---------------------------------------------------------------------------------------
# Lock, pending events, patch plumbing
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """Hold :data:`LOCK`; when the outermost guard of this thread exits, deliver the events
    queued meanwhile, outside the lock."""
    LOCK.acquire()
    _tls.depth = getattr(_tls, "depth", 0) + 1
    try:
        yield
    finally:
        _tls.depth -= 1
        outermost = _tls.depth == 0
        LOCK.release()
        if outermost:
            _flush_events()


def _queue_event(event: dict[str, Any]) -> None:
    pending = getattr(_tls, "pending", None)
    if pending is None:
        pending = _tls.pending = []
    pending.append(event)


def _flush_events() -> None:
    pending = getattr(_tls, "pending", None)
    while pending:
        event = pending.pop(0)
        with LOCK:
            listeners = list(_listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("lifecycle listener %r failed for event %s", listener, event["id"])


_MARK = "__fixed_ip_patch__"


def _patch(cls: type, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Replace ``cls.name`` by ``make(original)`` unless already patched (idempotent)."""
    original = cls.__dict__.get(name) or getattr(cls, name, None)
    if original is not None and getattr(original, _MARK, False):
        return
    replacement = make(original)
    if original is not None:
        replacement = wraps(original)(replacement)
        replacement.__doc__ = make.__doc__ or replacement.__doc__
    else:
        replacement.__doc__ = make.__doc__
    setattr(replacement, _MARK, True)
    setattr(cls, name, replacement)


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    """Run under LOCK (moto's backends are not thread-safe; AWS applies each request
    atomically), then deliver the lifecycle events it queued."""

    def run(*args: Any, **kwargs: Any) -> Any:
        with _guard():
            return original(*args, **kwargs)

    return run


def _guard_dispatch(original: Callable[..., Any]) -> Callable[..., Any]:
    """Serialize every request of this service under LOCK: moto's backends are not
    thread-safe, and AWS applies each mutation atomically (for example exactly one of many
    concurrent AttachNetworkInterface calls for one interface succeeds)."""
    return _guarded(original)


# ---------------------------------------------------------------------------------------
# EC2
# ---------------------------------------------------------------------------------------


class _EC2Error(EC2ClientError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def _attach_network_interface(original: Callable[..., Any]) -> Callable[..., Any]:
    """AttachNetworkInterface with the checks AWS makes (EC2 API reference and error codes):

    - an interface that is already attached fails ``InvalidNetworkInterface.InUse``
      ("Interface: [eni-...] in use.");
    - a device index the instance already uses fails ``InvalidParameterValue``
      ("Instance 'i-...' already has an interface attached at device index '1'.");
    - the interface and the instance must be in the same Availability Zone
      (``InvalidParameterValue``);
    - the instance must be pending, running or stopped, else ``IncorrectInstanceState``;
    - interfaces attached this way have ``DeleteOnTermination`` false (only interfaces
      created with the instance default to true).
    The check and the attachment happen atomically under LOCK.
    """

    def attach_network_interface(
        self: EC2Backend, eni_id: str, instance_id: str, device_index: int | str
    ) -> Any:
        with _guard():
            eni = self.get_network_interface(eni_id)
            instance = self.get_instance(instance_id)
            index = int(device_index)
            if instance.state not in _ATTACHABLE_INSTANCE_STATES:
                raise _EC2Error(
                    "IncorrectInstanceState",
                    f"The instance '{instance.id}' is not in a valid state for this operation.",
                )
            if eni.instance is not None or eni.attachment_id or eni.status == "in-use":
                raise _EC2Error("InvalidNetworkInterface.InUse", f"Interface: [{eni.id}] in use.")
            if index in instance.nics:
                raise InvalidParameterValue(
                    f"Instance '{instance.id}' already has an interface attached at "
                    f"device index '{index}'."
                )
            if eni.availability_zone != instance.placement.zone:
                raise InvalidParameterValue(
                    f"The network interface '{eni.id}' is in Availability Zone "
                    f"'{eni.availability_zone}' but instance '{instance.id}' is in "
                    f"'{instance.placement.zone}'; they must be in the same Availability Zone."
                )
            eni.delete_on_termination = False
            return original(self, eni_id, instance_id, index)

    return attach_network_interface


def _instance_terminate(original: Callable[..., Any]) -> Callable[..., Any]:
    """Instance termination releases secondary interfaces: AWS detaches every interface whose
    attachment has ``DeleteOnTermination`` false when the instance terminates, and the
    interface returns to ``available`` (EC2 User Guide, network interfaces: "detach ... when
    the instance is terminated"). moto keeps them attached. The primary interface (device
    index 0) keeps moto's behaviour. Lifecycle actions of the instance stop being active.
    """

    def terminate(self: Instance) -> Any:
        with _guard():
            previous = original(self)
            for index, nic in list(self.nics.items()):
                if index != 0 and not nic.delete_on_termination and nic.instance is self:
                    self.detach_eni(nic)
            group = getattr(self, "autoscaling_group", None)
            if group is not None:
                _cancel_actions(group.autoscaling_backend, self.id)
            return previous

    return terminate


def _run_instances(original: Callable[..., Any]) -> Callable[..., Any]:
    """RunInstances, plus SSM agent registration of the new instances when
    :func:`set_auto_register` is on (the agent registers some time after boot; until then
    SSM answers ``InvalidInstanceId``)."""

    def run_instances(self: EC2Backend, *args: Any, **kwargs: Any) -> Any:
        with _guard():
            reservation = original(self, *args, **kwargs)
            delay = _auto_register_delay
            if delay is not None:
                online_at = _now() + delay
                for instance in reservation.instances:
                    instance._fixed_ip_ssm_online_at = online_at
            return reservation

    return run_instances


# ---------------------------------------------------------------------------------------
# Auto Scaling: lifecycle actions
# ---------------------------------------------------------------------------------------


@dataclass
class _Action:
    token: str
    instance_id: str
    group: str
    hook: str
    transition: str
    created_at: float
    heartbeat_timeout: int
    default_result: str
    state: str = "active"  # active | completed | cancelled
    result: str | None = None
    heartbeats: list[float] = field(default_factory=list)
    completed_at: float | None = None
    timed_out: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "group": self.group,
            "hook": self.hook,
            "transition": self.transition,
            "token": self.token,
            "state": self.state,
            "result": self.result,
            "heartbeats": len(self.heartbeats),
            "heartbeat_times": [_dt(t) for t in self.heartbeats],
            "last_heartbeat": _dt(self.heartbeats[-1]) if self.heartbeats else None,
            "created_at": _dt(self.created_at),
            "completed_at": _dt(self.completed_at) if self.completed_at else None,
            "timed_out": self.timed_out,
        }


def _actions(backend: AutoScalingBackend) -> dict[str, _Action]:
    # Lives on the backend so that moto's reset wipes it.
    return vars(backend).setdefault("_fixed_ip_actions", {})


def _hooks(backend: AutoScalingBackend, group_name: str, transition: str) -> list[LifecycleHook]:
    return [
        hook
        for hook in backend.lifecycle_hooks.values()
        if hook.auto_scaling_group_name == group_name and hook.lifecycle_transition == transition
    ]


def _state_of(group: FakeAutoScalingGroup, instance_id: str) -> InstanceState | None:
    return next((s for s in group.instance_states if s.instance.id == instance_id), None)


def _capacity_states(group: FakeAutoScalingGroup) -> list[InstanceState]:
    return [s for s in group.instance_states if s.lifecycle_state in _CAPACITY_STATES]


def _start_action(
    group: FakeAutoScalingGroup, state: InstanceState, hook: LifecycleHook, transition: str
) -> _Action:
    backend = group.autoscaling_backend
    now = _now()
    action = _Action(
        token=str(mock_random.uuid4()),
        instance_id=state.instance.id,
        group=group.name,
        hook=hook.name,
        transition=transition,
        created_at=now,
        heartbeat_timeout=int(hook.heartbeat_timeout or 3600),
        default_result=hook.default_result or "ABANDON",
    )
    _actions(backend)[action.token] = action
    launch = transition == LAUNCHING
    detail: dict[str, Any] = {
        "LifecycleActionToken": action.token,
        "AutoScalingGroupName": group.name,
        "LifecycleHookName": hook.name,
        "EC2InstanceId": action.instance_id,
        "LifecycleTransition": transition,
    }
    metadata = getattr(hook, "notification_metadata", None)
    if metadata is not None:
        detail["NotificationMetadata"] = metadata
    detail["Origin"] = "EC2" if launch else "AutoScalingGroup"
    detail["Destination"] = "AutoScalingGroup" if launch else "EC2"
    _queue_event(
        {
            "version": "0",
            "id": str(mock_random.uuid4()),
            "detail-type": (
                "EC2 Instance-launch Lifecycle Action"
                if launch
                else "EC2 Instance-terminate Lifecycle Action"
            ),
            "source": "aws.autoscaling",
            "account": backend.account_id,
            "time": _iso_z(now),
            "region": backend.region_name,
            "resources": [group.arn],
            "detail": detail,
        }
    )
    return action


def _cancel_actions(
    backend: AutoScalingBackend, instance_id: str, transition: str | None = None
) -> None:
    now = _now()
    for action in _actions(backend).values():
        if (
            action.state == "active"
            and action.instance_id == instance_id
            and (transition is None or action.transition == transition)
        ):
            action.state = "cancelled"
            action.completed_at = now


def _active_for(backend: AutoScalingBackend, instance_id: str, transition: str) -> list[_Action]:
    return [
        a
        for a in _actions(backend).values()
        if a.state == "active" and a.instance_id == instance_id and a.transition == transition
    ]


def _refresh_load_balancers(group: FakeAutoScalingGroup) -> None:
    backend = group.autoscaling_backend
    if group.name in backend.autoscaling_groups:
        backend.update_attached_elbs(group.name)
        backend.update_attached_target_groups(group.name)


def _remove_and_terminate(group: FakeAutoScalingGroup, states: list[InstanceState]) -> None:
    if not states:
        return
    for state in states:
        state.lifecycle_state = "Terminating"
    group.instance_states = [s for s in group.instance_states if s not in states]
    group.autoscaling_backend.ec2_backend.terminate_instances([s.instance.id for s in states])
    _refresh_load_balancers(group)


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


def _find_active_action(
    backend: AutoScalingBackend,
    group_name: str | None,
    hook_name: str | None,
    token: str | None,
    instance_id: str | None,
) -> _Action:
    actions = _actions(backend)
    if token:
        action = actions.get(token)
        ok = (
            action is not None
            and action.state == "active"
            and action.group == group_name
            and action.hook == hook_name
            and (not instance_id or action.instance_id == instance_id)
        )
        if not ok:
            raise AutoScalingValidationError(f"No active Lifecycle Action found with token {token}")
    elif instance_id:
        action = next(
            (
                a
                for a in actions.values()
                if a.state == "active"
                and a.group == group_name
                and a.hook == hook_name
                and a.instance_id == instance_id
            ),
            None,
        )
        if action is None:
            raise AutoScalingValidationError(
                f"No active Lifecycle Action found with instance ID {instance_id}"
            )
    else:
        raise AutoScalingValidationError(
            "Either LifecycleActionToken or InstanceId must be specified."
        )
    assert action is not None
    group = backend.autoscaling_groups.get(action.group)
    state = _state_of(group, action.instance_id) if group else None
    if state is None:
        action.state = "cancelled"
        action.completed_at = _now()
        if token:
            raise AutoScalingValidationError(f"No active Lifecycle Action found with token {token}")
        raise AutoScalingValidationError(
            f"No active Lifecycle Action found with instance ID {instance_id}"
        )
    return action


def _finish_action(backend: AutoScalingBackend, action: _Action, result: str) -> None:
    action.state = "completed"
    action.result = result
    action.completed_at = _now()
    group = backend.autoscaling_groups[action.group]
    state = _state_of(group, action.instance_id)
    if state is None:
        return
    if action.transition == LAUNCHING:
        if result == "ABANDON":
            _cancel_actions(backend, action.instance_id)
            _remove_and_terminate(group, [state])
        elif not _active_for(backend, action.instance_id, LAUNCHING):
            state.lifecycle_state = "InService"
            _refresh_load_balancers(group)
    elif result == "ABANDON" or not _active_for(backend, action.instance_id, TERMINATING):
        _cancel_actions(backend, action.instance_id)
        _remove_and_terminate(group, [state])


def _complete_lifecycle_action(
    self: AutoScalingBackend,
    group_name: str,
    hook_name: str,
    result: str,
    token: str | None = None,
    instance_id: str | None = None,
) -> None:
    """CompleteLifecycleAction (Auto Scaling API reference): completes the lifecycle action
    for the token or instance with CONTINUE or ABANDON. With no active action for them
    (wrong token, instance, hook or group, or already completed) AWS answers
    ``ValidationError`` "No active Lifecycle Action found with token <token>" (or "... with
    instance ID <id>"). Launch: CONTINUE puts the instance InService once all its launch
    actions are complete; ABANDON terminates it and removes it from the group. Terminate:
    either result terminates the instance (ABANDON at once, skipping other hooks)."""
    with _guard():
        if result not in ("CONTINUE", "ABANDON"):
            raise AutoScalingValidationError(
                f"Invalid LifecycleActionResult '{result}': must be CONTINUE or ABANDON."
            )
        action = _find_active_action(self, group_name, hook_name, token, instance_id)
        _finish_action(self, action, result)


def _record_lifecycle_action_heartbeat(
    self: AutoScalingBackend,
    group_name: str,
    hook_name: str,
    token: str | None = None,
    instance_id: str | None = None,
) -> None:
    """RecordLifecycleActionHeartbeat (Auto Scaling API reference): restarts the heartbeat
    timeout of an active lifecycle action; the same ``ValidationError`` as
    CompleteLifecycleAction when no action is active for the token or instance."""
    with _guard():
        action = _find_active_action(self, group_name, hook_name, token, instance_id)
        action.heartbeats.append(_now())


def _complete_lifecycle_action_response(_original: Any) -> Callable[..., Any]:
    """CompleteLifecycleAction: see ``AutoScalingBackend.complete_lifecycle_action``."""

    def complete_lifecycle_action(self: AutoScalingResponse) -> ActionResult:
        self.autoscaling_backend.complete_lifecycle_action(
            self._get_param("AutoScalingGroupName"),
            self._get_param("LifecycleHookName"),
            self._get_param("LifecycleActionResult"),
            token=self._get_param("LifecycleActionToken"),
            instance_id=self._get_param("InstanceId"),
        )
        return EmptyResult()

    return complete_lifecycle_action


def _record_heartbeat_response(_original: Any) -> Callable[..., Any]:
    """RecordLifecycleActionHeartbeat: see the backend method of the same name."""

    def record_lifecycle_action_heartbeat(self: AutoScalingResponse) -> ActionResult:
        self.autoscaling_backend.record_lifecycle_action_heartbeat(
            self._get_param("AutoScalingGroupName"),
            self._get_param("LifecycleHookName"),
            token=self._get_param("LifecycleActionToken"),
            instance_id=self._get_param("InstanceId"),
        )
        return EmptyResult()

    return record_lifecycle_action_heartbeat


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


def _put_lifecycle_hook(original: Callable[..., Any]) -> Callable[..., Any]:
    """PutLifecycleHook "creates or updates a lifecycle hook": keeps ``NotificationMetadata``
    (moto drops it; it is delivered in the event detail) and, on update, the settings the
    request leaves out (LifecycleTransition is "required for new lifecycle hooks, but
    optional when updating existing hooks")."""

    def put_lifecycle_hook(self: AutoScalingResponse) -> Any:
        backend = self.autoscaling_backend
        key = f"{self._get_param('AutoScalingGroupName')}_{self._get_param('LifecycleHookName')}"
        previous = backend.lifecycle_hooks.get(key)
        result = original(self)
        hook = backend.lifecycle_hooks.get(key)
        if hook is not None:
            metadata = self._get_param("NotificationMetadata")
            if previous is not None:
                if self._get_param("LifecycleTransition") is None:
                    hook.lifecycle_transition = previous.lifecycle_transition
                if self._get_param("HeartbeatTimeout") is None:
                    hook.heartbeat_timeout = previous.heartbeat_timeout
                if self._get_param("DefaultResult") is None:
                    hook.default_result = previous.default_result
                if metadata is None:
                    metadata = getattr(previous, "notification_metadata", None)
            hook.notification_metadata = metadata
        return result

    return put_lifecycle_hook


def _create_auto_scaling_group_response(original: Callable[..., Any]) -> Callable[..., Any]:
    """CreateAutoScalingGroup ``LifecycleHookSpecificationList``: "One or more lifecycle hooks
    to add to the Auto Scaling group before instances are launched" (moto ignores it), so the
    group's first instances are already gated."""

    def create_auto_scaling_group(self: AutoScalingResponse) -> Any:
        backend = self.autoscaling_backend
        group_name = self._get_param("AutoScalingGroupName")
        created: list[str] = []
        for spec in self._get_param("LifecycleHookSpecificationList", []) or []:
            timeout = spec.get("HeartbeatTimeout")
            hook = backend.create_lifecycle_hook(
                name=spec["LifecycleHookName"],
                as_name=group_name,
                transition=spec.get("LifecycleTransition"),
                timeout=int(timeout) if timeout is not None else None,
                result=spec.get("DefaultResult"),
            )
            hook.notification_metadata = spec.get("NotificationMetadata")
            created.append(f"{group_name}_{hook.name}")
        try:
            return original(self)
        except Exception:
            for key in created:
                backend.lifecycle_hooks.pop(key, None)
            raise

    return create_auto_scaling_group


# ---------------------------------------------------------------------------------------
# SSM
# ---------------------------------------------------------------------------------------


def _ssm_outcomes(backend: SimpleSystemManagerBackend) -> dict[str, tuple[str, float]]:
    return vars(backend).setdefault("_fixed_ip_outcomes", {})


def _managed_online(instance: Any, now: float) -> bool:
    online_at = getattr(instance, "_fixed_ip_ssm_online_at", None)
    return online_at is not None and online_at <= now


def _document_for(
    backend: SimpleSystemManagerBackend, name: str | None, version: str | None
) -> Any:
    documents = backend._documents.get(name or "")
    if documents is None:
        return None
    if version in (None, "", "$DEFAULT"):
        return documents.get_default_version()
    if version == "$LATEST":
        return documents.get_latest_version()
    return documents.find_by_version(str(version))


class _SSMError(SSMException):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def _validate_parameters(document: Any, parameters: dict[str, Any]) -> None:
    declared: dict[str, Any] = document.content_json.get("parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise _SSMError(
            "InvalidParameters",
            f"Parameters {unknown} are not defined in document {document.name}.",
        )
    for name, spec in declared.items():
        spec = spec or {}
        if name not in parameters:
            if "default" not in spec:
                raise _SSMError(
                    "InvalidParameters",
                    f"Required parameter {name} of document {document.name} is missing.",
                )
            continue
        values = parameters[name]
        values = values if isinstance(values, list) else [values]
        pattern = spec.get("allowedPattern")
        allowed = spec.get("allowedValues")
        for value in values:
            text = str(value)
            if pattern is not None and re.fullmatch(pattern, text) is None:
                raise _SSMError(
                    "InvalidParameters",
                    f"Parameter {name} value '{text}' does not match the allowed pattern "
                    f"{pattern}.",
                )
            if allowed is not None and text not in [str(a) for a in allowed]:
                raise _SSMError(
                    "InvalidParameters",
                    f"Parameter {name} value '{text}' is not one of the allowed values.",
                )
            if "maxChars" in spec and len(text) > int(spec["maxChars"]):
                raise _SSMError(
                    "InvalidParameters", f"Parameter {name} exceeds {spec['maxChars']} characters."
                )
            if "minChars" in spec and len(text) < int(spec["minChars"]):
                raise _SSMError(
                    "InvalidParameters",
                    f"Parameter {name} is shorter than {spec['minChars']} characters.",
                )


def _send_command_response(original: Callable[..., Any]) -> Callable[..., Any]:
    """SendCommand validation (Systems Manager API reference, SendCommand errors):

    - ``InvalidParameters``: "You must specify values for all required parameters in the
      Amazon Web Services Systems Manager document (SSM document). You can only supply values
      to parameters defined in the SSM document." Also each value against the parameter's
      ``allowedPattern`` (whole value), ``allowedValues``, ``minChars`` and ``maxChars``.
      Checked when the document exists in moto (AWS-owned documents are not modelled).
    - ``InvalidInstanceId``: the instance is not a managed instance with an online agent
      ("Instances [[i-...]] not in a valid state for account <account>").
    """

    def send_command(self: SimpleSystemManagerResponse) -> Any:
        with _guard():
            backend = self.ssm_backend
            document = _document_for(
                backend, self._get_param("DocumentName"), self._get_param("DocumentVersion")
            )
            if document is not None:
                _validate_parameters(document, self._get_param("Parameters", {}) or {})
            instance_ids = self._get_param("InstanceIds", []) or []
            if instance_ids:
                ec2 = ec2_backends[backend.account_id][backend.region_name]
                now = _now()
                invalid = []
                for instance_id in instance_ids:
                    instance = ec2.get_instance_by_id(instance_id)
                    if (
                        instance is None
                        or instance.state != "running"
                        or not _managed_online(instance, now)
                    ):
                        invalid.append(instance_id)
                if invalid:
                    raise _SSMError(
                        "InvalidInstanceId",
                        f"Instances [[{', '.join(invalid)}]] not in a valid state for account "
                        f"{backend.account_id}",
                    )
            return original(self)

    return send_command


def _send_command_backend(original: Callable[..., Any]) -> Callable[..., Any]:
    """SendCommand outcome: AWS answers ``Pending`` and runs the command on each instance
    later; the outcome of each invocation is the one set with :func:`set_command_outcome`
    (default ``Success``), reported ``InProgress`` until its delay has passed. The plugin
    name is the document's first step name, as AWS reports it."""

    def send_command(self: SimpleSystemManagerBackend, *args: Any, **kwargs: Any) -> Command:
        with _guard():
            command = original(self, *args, **kwargs)
            now = _now()
            outcomes = _ssm_outcomes(self)
            command._fixed_ip_sent_at = now
            command._fixed_ip_outcomes = {}
            for instance_id in command.instance_ids:
                status, delay = outcomes.get(instance_id, ("Success", 0.0))
                command._fixed_ip_outcomes[instance_id] = (status, now + delay)
            document = _document_for(self, command.document_name, None)
            steps = (document.content_json.get("mainSteps") or []) if document else []
            if steps and steps[0].get("name"):
                for invocation in command.invocations:
                    invocation["PluginName"] = steps[0]["name"]
            command.status = "Pending"
            command.status_details = "Pending"
            return command

    return send_command


def _command_targets(original: Callable[..., Any]) -> Callable[..., Any]:
    """SendCommand runs on the InstanceIds given plus the instances matching Targets; with no
    Targets that is no other instance (moto 5.2.5 matches every instance of the region, so
    a command to one instance ran on all). A target with key ``InstanceIds`` names
    instances; other keys (``tag:<key>``, ``tag-key``) use moto's EC2 filters, keeping
    running instances only (commands reach managed nodes, not stopped ones)."""

    def _get_instance_ids_from_targets(self: Command) -> list[str]:
        if not self.targets:
            return []
        named = [v for t in self.targets if t.get("Key") == "InstanceIds" for v in t["Values"]]
        others = [t for t in self.targets if t.get("Key") != "InstanceIds"]
        if not others:
            return named
        ec2 = ec2_backends[self.account_id][self.backend_region]
        saved, self.targets = self.targets, others
        try:
            matched = original(self)
        finally:
            self.targets = saved
        instances = [ec2.get_instance_by_id(i) for i in matched]
        return named + [i.id for i in instances if i is not None and i.state == "running"]

    return _get_instance_ids_from_targets


def _refresh_command(command: Command, now: float) -> None:
    outcomes: dict[str, tuple[str, float]] | None = getattr(command, "_fixed_ip_outcomes", None)
    if outcomes is None:
        return
    sent_at: float = command._fixed_ip_sent_at
    statuses = []
    for invocation in command.invocations:
        status, ready_at = outcomes.get(invocation["InstanceId"], ("Success", sent_at))
        if now < ready_at:
            invocation.update(
                Status="InProgress",
                StatusDetails="InProgress",
                ResponseCode=-1,
                ExecutionEndDateTime="",
                ExecutionElapsedTime=f"PT{now - sent_at:.3f}S",
            )
            statuses.append("InProgress")
            continue
        details, code = _COMMAND_STATUSES[status]
        invocation.update(
            Status=status,
            StatusDetails=details,
            ResponseCode=code,
            ExecutionEndDateTime=_dt(ready_at).isoformat(),
            ExecutionElapsedTime=f"PT{ready_at - sent_at:.3f}S",
            StandardErrorContent=(
                "" if status == "Success" else f"simulated {status} (fixed_ip_local)"
            ),
        )
        statuses.append(status)
    if "InProgress" in statuses:
        overall = "InProgress"
    elif all(s == "Success" for s in statuses):
        overall = "Success"
    else:
        overall = next(s for s in ("Failed", "TimedOut", "Cancelled") if s in statuses)
    command.status = overall
    command.status_details = overall
    command.completed_count = sum(1 for s in statuses if s != "InProgress")
    command.error_count = sum(1 for s in statuses if s in ("Failed", "TimedOut"))


def _get_command_invocation(original: Callable[..., Any]) -> Callable[..., Any]:
    """GetCommandInvocation reports the invocation's current Status, StatusDetails and
    ResponseCode (0 on success, 1 on failure, -1 while in progress)."""

    def get_command_invocation(
        self: SimpleSystemManagerBackend, command_id: str, instance_id: str, plugin_name: Any
    ) -> dict[str, Any]:
        with _guard():
            _refresh_command(self.get_command_by_id(command_id), _now())
            return original(self, command_id, instance_id, plugin_name)

    return get_command_invocation


def _list_commands(original: Callable[..., Any]) -> Callable[..., Any]:
    """ListCommands reports each command's current aggregate Status."""

    def list_commands(self: SimpleSystemManagerBackend, *args: Any, **kwargs: Any) -> Any:
        with _guard():
            commands = original(self, *args, **kwargs)
            now = _now()
            for command in commands:
                _refresh_command(command, now)
            return commands

    return list_commands


def _page(
    items: list[Any], token: str | None, max_results: Any, default: int = 50
) -> tuple[list[Any], str | None]:
    start = int(token) if token else 0
    size = int(max_results) if max_results else default
    page = items[start : start + size]
    next_token = str(start + size) if start + size < len(items) else None
    return page, next_token


def _list_command_invocations(_original: Any) -> Callable[..., Any]:
    """ListCommandInvocations (new action): one entry per instance of each command with its
    current Status and StatusDetails; with ``Details`` true, ``CommandPlugins`` with the
    plugin's Status, ResponseCode and Output. Filters CommandId and InstanceId;
    MaxResults/NextToken pagination."""

    def list_command_invocations(self: SimpleSystemManagerResponse) -> ActionResult:
        with _guard():
            backend = self.ssm_backend
            command_id = self._get_param("CommandId")
            instance_id = self._get_param("InstanceId")
            details = bool(self._get_param("Details", False))
            commands = [backend.get_command_by_id(command_id)] if command_id else backend._commands
            now = _now()
            entries = []
            for command in commands:
                _refresh_command(command, now)
                for invocation in command.invocations:
                    if instance_id and invocation["InstanceId"] != instance_id:
                        continue
                    entry: dict[str, Any] = {
                        "CommandId": command.command_id,
                        "InstanceId": invocation["InstanceId"],
                        "InstanceName": "",
                        "Comment": command.comment,
                        "DocumentName": command.document_name,
                        "DocumentVersion": "$DEFAULT",
                        "RequestedDateTime": command.requested_date_time,
                        "Status": invocation["Status"],
                        "StatusDetails": invocation["StatusDetails"],
                        "StandardOutputUrl": "",
                        "StandardErrorUrl": "",
                        "ServiceRole": command.service_role_arn,
                    }
                    if details:
                        done = invocation["Status"] not in ("InProgress", "Pending")
                        plugin: dict[str, Any] = {
                            "Name": invocation["PluginName"],
                            "Status": invocation["Status"],
                            "StatusDetails": invocation["StatusDetails"],
                            "ResponseCode": invocation["ResponseCode"],
                            "ResponseStartDateTime": command.requested_date_time,
                            "Output": invocation.get("StandardOutputContent", ""),
                            "StandardOutputUrl": "",
                            "StandardErrorUrl": "",
                        }
                        if done:
                            plugin["ResponseFinishDateTime"] = datetime.fromisoformat(
                                invocation["ExecutionEndDateTime"]
                            )
                        entry["CommandPlugins"] = [plugin]
                    entries.append(entry)
            page, next_token = _page(
                entries, self._get_param("NextToken"), self._get_param("MaxResults")
            )
            return ActionResult({"CommandInvocations": page, "NextToken": next_token})

    return list_command_invocations


def _instance_info_filters(response: SimpleSystemManagerResponse) -> list[tuple[str, list[str]]]:
    filters: list[tuple[str, list[str]]] = []
    for f in response._get_param("InstanceInformationFilterList", []) or []:
        filters.append((f.get("key"), list(f.get("valueSet") or [])))
    for f in response._get_param("Filters", []) or []:
        filters.append((f.get("Key"), list(f.get("Values") or [])))
    return filters


def _describe_instance_information(_original: Any) -> Callable[..., Any]:
    """DescribeInstanceInformation (new action): the managed instances whose SSM agent has
    registered (see :func:`register_managed_instance` / :func:`set_auto_register`), with
    PingStatus ``Online`` while the EC2 instance runs (``ConnectionLost`` when stopped;
    terminated instances are not listed), PlatformType ``Linux``, ResourceType
    ``EC2Instance``, AgentVersion, IPAddress and ComputerName (the OS host name). Filters:
    ``InstanceInformationFilterList`` (key/valueSet) and ``Filters`` (Key/Values) with keys
    InstanceIds, PingStatus, PlatformTypes, ResourceType, AgentVersion, and ``tag:<key>`` /
    ``tag-key`` in Filters; MaxResults/NextToken pagination."""

    def describe_instance_information(self: SimpleSystemManagerResponse) -> ActionResult:
        with _guard():
            backend = self.ssm_backend
            ec2 = ec2_backends[backend.account_id][backend.region_name]
            filters = _instance_info_filters(self)
            now = _now()
            infos = []
            for instance in ec2.all_instances():
                if not _managed_online(instance, now):
                    continue
                if instance.state in ("terminated", "shutting-down"):
                    continue
                host = _os_hostname_for(backend, instance.id, now)
                info = {
                    "InstanceId": instance.id,
                    "PingStatus": "Online" if instance.state == "running" else "ConnectionLost",
                    "LastPingDateTime": _dt(now),
                    "AgentVersion": AGENT_VERSION,
                    "IsLatestVersion": True,
                    "PlatformType": "Linux",
                    "PlatformName": "Amazon Linux",
                    "PlatformVersion": "2023",
                    "ResourceType": "EC2Instance",
                    "IPAddress": instance.private_ip,
                    "ComputerName": host or instance.private_dns_name,
                    "SourceId": instance.id,
                    "SourceType": "AWS::EC2::Instance",
                }
                if all(_info_matches(info, instance, key, values) for key, values in filters):
                    infos.append(info)
            page, next_token = _page(
                infos, self._get_param("NextToken"), self._get_param("MaxResults")
            )
            return ActionResult({"InstanceInformationList": page, "NextToken": next_token})

    return describe_instance_information


def _info_matches(info: dict[str, Any], instance: Any, key: str, values: list[str]) -> bool:
    simple = {
        "InstanceIds": "InstanceId",
        "PingStatus": "PingStatus",
        "PlatformTypes": "PlatformType",
        "ResourceType": "ResourceType",
        "AgentVersion": "AgentVersion",
    }
    if key in simple:
        return str(info[simple[key]]) in values
    tags = {t["key"]: t["value"] for t in instance.get_tags()}
    if key == "tag-key":
        return any(v in tags for v in values)
    if key and key.startswith("tag:"):
        return tags.get(key[4:]) in values
    raise InvalidFilterKey(f"The filter key {key} is not valid.")


def _os_hostname_for(
    backend: SimpleSystemManagerBackend, instance_id: str, now: float
) -> str | None:
    best: tuple[float, int] | None = None
    value = None
    for seq, command in enumerate(backend._commands):
        outcomes = getattr(command, "_fixed_ip_outcomes", None)
        params = command.parameters or {}
        if not outcomes or "HostName" not in params or instance_id not in outcomes:
            continue
        status, ready_at = outcomes[instance_id]
        if status != "Success" or ready_at > now:
            continue
        if best is None or (ready_at, seq) >= best:
            best = (ready_at, seq)
            raw = params["HostName"]
            value = str(raw[0] if isinstance(raw, list) else raw)
    return value


# ---------------------------------------------------------------------------------------
# Public helpers
# ---------------------------------------------------------------------------------------


def _asg_backend(region: str | None, account_id: str) -> AutoScalingBackend:
    return autoscaling_backends[account_id][_region(region)]


def _ssm_backend(region: str | None, account_id: str) -> SimpleSystemManagerBackend:
    return ssm_backends[account_id][_region(region)]


def lifecycle_actions(
    region: str | None = None, account_id: str = DEFAULT_ACCOUNT_ID
) -> list[dict[str, Any]]:
    """Snapshot of every lifecycle action of the region (oldest first): dicts with
    instance_id, group, hook, transition, token, state (active | completed | cancelled),
    result, heartbeats (count), heartbeat_times, last_heartbeat, created_at, completed_at,
    timed_out. ``region`` defaults to $AWS_DEFAULT_REGION, else ap-northeast-1."""
    with _guard():
        return [a.as_dict() for a in _actions(_asg_backend(region, account_id)).values()]


def active_token(
    instance_id: str,
    hook_name: str,
    region: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> str | None:
    """The token of the active lifecycle action of ``instance_id`` for ``hook_name``."""
    with _guard():
        for action in _actions(_asg_backend(region, account_id)).values():
            if (
                action.state == "active"
                and action.instance_id == instance_id
                and action.hook == hook_name
            ):
                return action.token
        return None


def expire_lifecycle_actions(
    region: str | None = None, account_id: str = DEFAULT_ACCOUNT_ID
) -> list[dict[str, Any]]:
    """Apply the hook's DefaultResult to every active action whose heartbeat timeout has
    passed (HeartbeatTimeout after the last heartbeat or the start; at most
    min(100 x HeartbeatTimeout, 48 h) overall), as Auto Scaling does when a wait state times
    out. Not automatic: call it (with :func:`set_clock` to move time). Returns the expired
    actions."""
    with _guard():
        backend = _asg_backend(region, account_id)
        now = _now()
        expired = []
        for action in list(_actions(backend).values()):
            if action.state != "active":
                continue
            last = action.heartbeats[-1] if action.heartbeats else action.created_at
            overall = action.created_at + min(100 * action.heartbeat_timeout, 172800)
            if now >= min(last + action.heartbeat_timeout, overall):
                action.timed_out = True
                _finish_action(backend, action, action.default_result)
                expired.append(action.as_dict())
        return expired


def register_managed_instance(
    instance_id: str,
    online_after_seconds: float = 0.0,
    region: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Register ``instance_id`` (an existing EC2 instance) as an SSM managed instance whose
    agent is online ``online_after_seconds`` from now."""
    with _guard():
        instance = ec2_backends[account_id][_region(region)].get_instance(instance_id)
        instance._fixed_ip_ssm_online_at = _now() + online_after_seconds


def set_command_outcome(
    instance_id: str,
    status: str = "Success",
    region: str | None = None,
    *,
    delay_seconds: float = 0.0,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Outcome of the commands sent to ``instance_id`` from now on: Success, Failed, TimedOut
    or Cancelled, reported ``InProgress`` for ``delay_seconds`` after SendCommand."""
    if status not in _COMMAND_STATUSES:
        raise ValueError(f"status must be one of {sorted(_COMMAND_STATUSES)}, not {status!r}")
    with _guard():
        _ssm_outcomes(_ssm_backend(region, account_id))[instance_id] = (status, delay_seconds)


def os_hostname(
    instance_id: str, region: str | None = None, account_id: str = DEFAULT_ACCOUNT_ID
) -> str | None:
    """The host name last set on ``instance_id`` by a command with a ``HostName`` parameter
    that has succeeded (the "OS" of the fake instance); ``None`` if none has."""
    with _guard():
        return _os_hostname_for(_ssm_backend(region, account_id), instance_id, _now())


# ---------------------------------------------------------------------------------------
# apply()
# ---------------------------------------------------------------------------------------


def _method(function: Callable[..., Any]) -> Callable[[Any], Callable[..., Any]]:
    def make(_original: Any) -> Callable[..., Any]:
        return function

    make.__doc__ = function.__doc__
    return make


def _subnet_ip(original: Callable[..., Any]) -> Callable[..., Any]:
    """A new instance's primary address: AWS picks a free address of the subnet, never one
    an existing interface holds. moto's generator ignores interfaces created with an
    explicit ``PrivateIpAddress`` (such as pool ENIs) and hands their address out again."""

    def get_available_subnet_ip(self: Subnet, instance: Any) -> str:
        held = {
            eni.private_ip_address
            for eni in self.ec2_backend.enis.values()
            if eni.subnet is not None and eni.subnet.id == self.id
        }
        while True:
            ip = original(self, instance)
            if ip not in held:
                return ip
            # Leave the skipped address marked as used (it is: by that interface).

    return get_available_subnet_ip


def apply() -> None:
    """Install every patch (idempotent; safe to call from several fixtures)."""
    global _applied
    with LOCK:
        if _applied:
            return
        # Request serialization (thread safety) for the three services.
        for response_cls in (EC2Response, AutoScalingResponse, SimpleSystemManagerResponse):
            _patch(response_cls, "call_action", _guard_dispatch)

        # EC2
        _patch(EC2Backend, "attach_network_interface", _attach_network_interface)
        _patch(EC2Backend, "detach_network_interface", _guarded)
        _patch(EC2Backend, "terminate_instances", _guarded)
        _patch(EC2Backend, "run_instances", _run_instances)
        _patch(Instance, "terminate", _instance_terminate)
        _patch(Subnet, "get_available_subnet_ip", _subnet_ip)

        # Auto Scaling
        _patch(FakeAutoScalingGroup, "replace_autoscaling_group_instances", _replace_instances)
        _patch(FakeAutoScalingGroup, "set_desired_capacity", _set_desired_capacity)
        _patch(AutoScalingBackend, "notify_terminate_instances", _notify_terminate_instances)
        _patch(AutoScalingBackend, "terminate_instance", _terminate_instance)
        _patch(AutoScalingBackend, "detach_instances", _detach_instances)
        _patch(AutoScalingBackend, "delete_auto_scaling_group", _delete_auto_scaling_group)
        for name in ("create_auto_scaling_group", "update_auto_scaling_group"):
            _patch(AutoScalingBackend, name, _guarded)
        _patch(AutoScalingBackend, "complete_lifecycle_action", _method(_complete_lifecycle_action))
        _patch(
            AutoScalingBackend,
            "record_lifecycle_action_heartbeat",
            _method(_record_lifecycle_action_heartbeat),
        )
        _patch(AutoScalingResponse, "put_lifecycle_hook", _put_lifecycle_hook)
        _patch(
            AutoScalingResponse, "create_auto_scaling_group", _create_auto_scaling_group_response
        )
        _patch(
            AutoScalingResponse, "complete_lifecycle_action", _complete_lifecycle_action_response
        )
        _patch(AutoScalingResponse, "record_lifecycle_action_heartbeat", _record_heartbeat_response)

        # SSM
        _patch(SimpleSystemManagerResponse, "send_command", _send_command_response)
        _patch(SimpleSystemManagerBackend, "send_command", _send_command_backend)
        _patch(Command, "_get_instance_ids_from_targets", _command_targets)
        _patch(SimpleSystemManagerBackend, "get_command_invocation", _get_command_invocation)
        _patch(SimpleSystemManagerBackend, "list_commands", _list_commands)
        _patch(SimpleSystemManagerResponse, "list_command_invocations", _list_command_invocations)
        _patch(
            SimpleSystemManagerResponse,
            "describe_instance_information",
            _describe_instance_information,
        )

        # EventBridge TestEventPattern (fixed-ip doctor)
        moto_events.apply()
        _applied = True
