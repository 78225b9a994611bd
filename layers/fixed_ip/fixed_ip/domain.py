"""The domain's value objects: what the adapters return and the use cases reason about
(instances, pool ENIs, managed groups and their hooks), with no AWS or pydantic in them."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime

GROUPS_TAG = "fixed-ip:groups"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


@dataclass(frozen=True)
class Interface:
    eni_id: str
    device_index: int


@dataclass(frozen=True)
class Instance:
    instance_id: str
    state: str  # EC2 state name: pending, running, shutting-down, terminated, ...
    az: str
    vpc_id: str | None
    group: str | None  # the aws:autoscaling:groupName tag
    interfaces: tuple[Interface, ...] = ()
    launch_time: datetime | None = None
    # When EC2 last changed the state, where EC2 says (StateTransitionReason).
    state_changed_at: datetime | None = None
    # Its host-name tag (the controller sets it from the ENI's): duplicates are reported.
    host_name: str | None = None

    @property
    def gone(self) -> bool:
        return self.state in {"shutting-down", "terminated", "stopping", "stopped"}

    def interface_at(self, device_index: int) -> Interface | None:
        return next((i for i in self.interfaces if i.device_index == device_index), None)


def groups_admit(allowed: str | None, group: str) -> bool:
    """Whether `group` may claim an ENI whose `fixed-ip:groups` tag is `allowed`: group
    names or patterns (`web-*`) separated by spaces or commas. Without the tag, any
    managed group that names the pool may."""
    if allowed is None:
        return True
    patterns = [p for p in re.split(r"[\s,]+", allowed) if p]
    return any(fnmatch.fnmatchcase(group, p) for p in patterns)


@dataclass(frozen=True)
class PoolEni:
    eni_id: str
    ip: str
    az: str
    subnet_id: str
    vpc_id: str
    status: str  # available | in-use | attaching | detaching ...
    host_name: str | None
    instance_id: str | None = None
    device_index: int | None = None
    attachment_id: str | None = None
    mac: str | None = None
    tags: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # When it was attached (AttachTime): the leak grace for a holder EC2 does not list.
    attached_at: datetime | None = None

    @property
    def free(self) -> bool:
        return self.status == "available" and self.instance_id is None

    @property
    def primary(self) -> bool:
        """Attached at device index 0: the instance's primary interface, which a launch
        template that tags network interfaces may have tagged with the pool. Never an
        instance's fixed address: never counted, never detached, never a candidate."""
        return self.instance_id is not None and self.device_index == 0

    @property
    def held(self) -> bool:
        """Attached to an instance as its fixed address (any device index but 0)."""
        return self.instance_id is not None and not self.primary

    def admits(self, group: str) -> bool:
        return groups_admit(self.tags.get(GROUPS_TAG), group)

    @property
    def ip_key(self) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in self.ip.split("."))
        except ValueError:
            return (999,)


@dataclass(frozen=True)
class GroupInstance:
    instance_id: str
    az: str
    lifecycle_state: str  # Pending:Wait, InService, Terminating:Wait, ...


@dataclass(frozen=True)
class Hook:
    name: str
    transition: str
    metadata: str | None = None


@dataclass(frozen=True)
class ManagedGroup:
    """An Auto Scaling group with at least one fixed-ip hook."""

    name: str
    max_size: int
    azs: tuple[str, ...]
    instances: tuple[GroupInstance, ...]
    hooks: tuple[Hook, ...]
    # InstanceMaintenancePolicy.MaxHealthyPercentage: how far above the desired capacity
    # replacements (instance refresh, maintenance) may go; None when the group has none.
    max_healthy_percentage: int | None = None
    # Its subnets (VPCZoneIdentifier): their VPC is where its instances' ENIs must be.
    subnet_ids: tuple[str, ...] = ()

    def launch_hooks(self) -> list[Hook]:
        return [h for h in self.hooks if h.transition == LAUNCHING]
