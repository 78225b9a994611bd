"""Fidelity patches for moto 5.2.x: the AWS behaviours fixed-ip relies on and moto lacks.

Call :func:`apply` once per process (it is idempotent). One module per service:
:mod:`.ec2`, :mod:`.autoscaling` (groups) and :mod:`.lifecycle` (lifecycle actions and
hooks), :mod:`.ssm`, :mod:`.events` (TestEventPattern); :mod:`.common` holds the lock,
settings and patch plumbing.

The patches replace methods on moto's backend and response *classes*, so they hold for
``moto.mock_aws`` (decorator or context manager) and for a ``ThreadedMotoServer`` started in
the same process; a separate ``moto_server`` process cannot be patched.

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
  ``InProgress`` period); the simulated agent runs the stack's document against a
  simulated OS per instance (agent, instance_os: host name, the fixed address, the
  FIXED_IP_RESULT line the real script prints).
- EventBridge ``TestEventPattern`` exists, answered by moto's own pattern matcher.

State per account and region lives on moto's backend objects (attributes set lazily on the
Auto Scaling and SSM backends and on EC2 instances), so moto's reset between tests wipes it.
Module-level settings (listeners, auto-registration delay, clock) are process-wide: tests
that change them restore them.

Thread safety: moto's backends are plain Python objects. Every request to EC2, Auto Scaling
and SSM, and every patched mutation, runs under one module-level ``threading.RLock``
(:data:`LOCK`). Lifecycle listeners are called after that lock is released.
"""

from __future__ import annotations

from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.ec2.models import EC2Backend
from moto.ec2.models.instances import Instance
from moto.ec2.models.subnets import Subnet
from moto.ec2.responses import EC2Response
from moto.ssm.models import Command, SimpleSystemManagerBackend
from moto.ssm.responses import SimpleSystemManagerResponse

from fixed_ip_local.moto_patches import autoscaling as asg
from fixed_ip_local.moto_patches import ec2, events, lifecycle, ssm
from fixed_ip_local.moto_patches.agent import (
    instance_os,
    os_address,
    os_hostname,
    queue_instance_os,
    set_instance_os,
)
from fixed_ip_local.moto_patches.common import (
    LAUNCHING,
    LOCK,
    TERMINATING,
    _guard_dispatch,
    _guarded,
    _method,
    _patch,
    add_lifecycle_listener,
    clear_lifecycle_listeners,
    set_auto_register,
    set_clock,
)
from fixed_ip_local.moto_patches.instance_os import DISTRIBUTIONS
from fixed_ip_local.moto_patches.lifecycle import (
    active_token,
    expire_lifecycle_actions,
    lifecycle_actions,
)
from fixed_ip_local.moto_patches.ssm import register_managed_instance, set_command_outcome

__all__ = [
    "DISTRIBUTIONS",
    "LAUNCHING",
    "LOCK",
    "TERMINATING",
    "active_token",
    "add_lifecycle_listener",
    "apply",
    "clear_lifecycle_listeners",
    "expire_lifecycle_actions",
    "instance_os",
    "lifecycle_actions",
    "os_address",
    "os_hostname",
    "queue_instance_os",
    "register_managed_instance",
    "set_auto_register",
    "set_clock",
    "set_command_outcome",
    "set_instance_os",
]

_applied = False


def apply() -> None:
    """Install every patch (idempotent; safe to call from several fixtures). The whole list
    of what is patched is here; each patch's docstring, in its service's module, cites the
    AWS behaviour it reproduces."""
    global _applied
    with LOCK:
        if _applied:
            return
        # Request serialization (thread safety) for the three services.
        for response_cls in (EC2Response, AutoScalingResponse, SimpleSystemManagerResponse):
            _patch(response_cls, "call_action", _guard_dispatch)

        # EC2
        _patch(EC2Backend, "attach_network_interface", ec2._attach_network_interface)
        _patch(EC2Backend, "detach_network_interface", _guarded)
        _patch(EC2Backend, "terminate_instances", _guarded)
        _patch(EC2Backend, "run_instances", ec2._run_instances)
        _patch(Instance, "terminate", ec2._instance_terminate)
        _patch(Subnet, "get_available_subnet_ip", ec2._subnet_ip)

        # Auto Scaling: groups
        _patch(FakeAutoScalingGroup, "replace_autoscaling_group_instances", asg._replace_instances)
        _patch(FakeAutoScalingGroup, "set_desired_capacity", asg._set_desired_capacity)
        _patch(AutoScalingBackend, "notify_terminate_instances", asg._notify_terminate_instances)
        _patch(AutoScalingBackend, "terminate_instance", asg._terminate_instance)
        _patch(AutoScalingBackend, "detach_instances", asg._detach_instances)
        _patch(AutoScalingBackend, "delete_auto_scaling_group", asg._delete_auto_scaling_group)
        for name in ("create_auto_scaling_group", "update_auto_scaling_group"):
            _patch(AutoScalingBackend, name, _guarded)

        # Auto Scaling: lifecycle hooks and actions
        _patch(
            AutoScalingBackend,
            "complete_lifecycle_action",
            _method(lifecycle._complete_lifecycle_action),
        )
        _patch(
            AutoScalingBackend,
            "record_lifecycle_action_heartbeat",
            _method(lifecycle._record_lifecycle_action_heartbeat),
        )
        _patch(AutoScalingResponse, "put_lifecycle_hook", lifecycle._put_lifecycle_hook)
        _patch(
            AutoScalingResponse,
            "create_auto_scaling_group",
            lifecycle._create_auto_scaling_group_response,
        )
        _patch(
            AutoScalingResponse,
            "complete_lifecycle_action",
            lifecycle._complete_lifecycle_action_response,
        )
        _patch(
            AutoScalingResponse,
            "record_lifecycle_action_heartbeat",
            lifecycle._record_heartbeat_response,
        )

        # SSM
        _patch(SimpleSystemManagerResponse, "send_command", ssm._send_command_response)
        _patch(SimpleSystemManagerBackend, "send_command", ssm._send_command_backend)
        _patch(Command, "_get_instance_ids_from_targets", ssm._command_targets)
        _patch(SimpleSystemManagerBackend, "get_command_invocation", ssm._get_command_invocation)
        _patch(SimpleSystemManagerBackend, "list_commands", ssm._list_commands)
        _patch(
            SimpleSystemManagerResponse, "list_command_invocations", ssm._list_command_invocations
        )
        _patch(
            SimpleSystemManagerResponse,
            "describe_instance_information",
            ssm._describe_instance_information,
        )

        # EventBridge TestEventPattern (fixed-ip doctor)
        events.apply()
        _applied = True
