"""EC2: network interface attachment as AWS checks it, release on termination, instance
addresses, and SSM agent registration of new instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.exceptions import EC2ClientError, InvalidParameterValue
from moto.ec2.models import EC2Backend
from moto.ec2.models.instances import Instance
from moto.ec2.models.subnets import Subnet

from fixed_ip_local.moto_patches.common import _guard, _now, auto_register_delay
from fixed_ip_local.moto_patches.instance_os import assign_queued_os
from fixed_ip_local.moto_patches.lifecycle import _cancel_actions

_ATTACHABLE_INSTANCE_STATES = frozenset({"pending", "running", "stopped"})


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
    SSM answers ``InvalidInstanceId``), and the simulated OS queued for them with
    ``queue_instance_os`` (on AWS the image decides the distribution)."""

    def run_instances(self: EC2Backend, *args: Any, **kwargs: Any) -> Any:
        with _guard():
            reservation = original(self, *args, **kwargs)
            assign_queued_os(self, reservation.instances)
            delay = auto_register_delay()
            if delay is not None:
                online_at = _now() + delay
                for instance in reservation.instances:
                    instance._fixed_ip_ssm_online_at = online_at
            return reservation

    return run_instances


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
