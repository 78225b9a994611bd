"""Auto Scaling lifecycle actions and hooks: the actions (tokens) of ``Pending:Wait`` and
``Terminating:Wait``, their events, CompleteLifecycleAction, RecordLifecycleActionHeartbeat,
heartbeat timeouts, and the hook settings moto drops (NotificationMetadata,
LifecycleHookSpecificationList)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.autoscaling.exceptions import ValidationError as AutoScalingValidationError
from moto.autoscaling.models import (
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    LifecycleHook,
    autoscaling_backends,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.moto_api._internal import mock_random

from fixed_ip_local.events import lifecycle_event
from fixed_ip_local.moto_patches.common import (
    _CAPACITY_STATES,
    LAUNCHING,
    TERMINATING,
    _dt,
    _guard,
    _now,
    _queue_event,
    _region,
)


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
    _queue_event(
        lifecycle_event(
            transition,
            instance_id=action.instance_id,
            group=group.name,
            hook=hook.name,
            token=action.token,
            region=backend.region_name,
            account=backend.account_id,
            resource=group.arn,
            at=now,
            event_id=str(mock_random.uuid4()),
            metadata=getattr(hook, "notification_metadata", None),
        )
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


def _action_response(backend_method: str, *, with_result: bool) -> Callable[[Any], Any]:
    """The response-side handler of CompleteLifecycleAction (``with_result``) or
    RecordLifecycleActionHeartbeat: the request's parameters handed to the patched backend
    method of the same name (moto lacks both actions)."""

    def make(_original: Any) -> Callable[..., Any]:
        def respond(self: AutoScalingResponse) -> ActionResult:
            result = [self._get_param("LifecycleActionResult")] if with_result else []
            getattr(self.autoscaling_backend, backend_method)(
                self._get_param("AutoScalingGroupName"),
                self._get_param("LifecycleHookName"),
                *result,
                token=self._get_param("LifecycleActionToken"),
                instance_id=self._get_param("InstanceId"),
            )
            return EmptyResult()

        return respond

    make.__doc__ = f"{backend_method}: see ``AutoScalingBackend.{backend_method}``."
    return make


_complete_lifecycle_action_response = _action_response(
    "complete_lifecycle_action", with_result=True
)
_record_heartbeat_response = _action_response(
    "record_lifecycle_action_heartbeat", with_result=False
)


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
# Public helpers
# ---------------------------------------------------------------------------------------


def _asg_backend(region: str | None, account_id: str) -> AutoScalingBackend:
    return autoscaling_backends[account_id][_region(region)]


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
