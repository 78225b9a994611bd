"""Event and metadata models (pydantic v2) and the domain's value objects."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fixed_ip.errors import InvalidEvent, InvalidMetadata

GROUPS_TAG = "fixed-ip:groups"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LAUNCH_DETAIL_TYPE = "EC2 Instance-launch Lifecycle Action"
TERMINATE_DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action"

# A pool name is an EC2 tag value, and by default the group's name: letters, digits,
# spaces and `_ . : / = + - @`, at most 255 characters (EC2 tag value rules).
POOL_NAME_PATTERN = r"^[\w .:/=+\-@]+$"
POOL_NAME_MAX = 255


class LifecycleDetail(BaseModel):
    """`detail` of an Auto Scaling lifecycle action event, as AWS documents it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    LifecycleActionToken: str = Field(min_length=1, max_length=36 * 4, repr=False)
    AutoScalingGroupName: str = Field(min_length=1, max_length=255)
    LifecycleHookName: str = Field(min_length=1, max_length=255)
    EC2InstanceId: str = Field(pattern=r"^i-[0-9a-f]{8,17}$")
    LifecycleTransition: Literal[
        "autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"
    ]
    NotificationMetadata: str | None = None
    Origin: str | None = None
    Destination: str | None = None


class LifecycleEvent(EventBridgeModel):
    """An EventBridge event carrying a lifecycle action from `aws.autoscaling`."""

    source: Literal["aws.autoscaling"]
    detail_type: Literal[
        "EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"
    ] = Field(alias="detail-type")
    detail: LifecycleDetail


class HookMetadata(BaseModel):
    """The hook's NotificationMetadata: `{"pool": "web", "device_index": 1}`, all optional.
    Unknown keys are refused so that a typo (`"pol"`) does not silently pick the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: str | None = Field(default=None, pattern=POOL_NAME_PATTERN, max_length=POOL_NAME_MAX)
    # strict: JSON `true` or "1" is not a device index
    device_index: int | None = Field(default=None, ge=1, le=31, strict=True)
    # The pool exhausted in the AZ: this hook's own policy (else the stack's parameter).
    on_exhausted: Literal["ABANDON", "WAIT"] | None = None

    @classmethod
    def from_notification(cls, raw: str | None) -> HookMetadata:
        """Parse the metadata string; empty or absent means all defaults."""
        if raw is None or not raw.strip():
            return cls()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidMetadata(
                f"NotificationMetadata is not valid JSON ({exc.msg} at position {exc.pos})"
            ) from exc
        if not isinstance(data, dict):
            raise InvalidMetadata(
                f"NotificationMetadata must be a JSON object, got {type(data).__name__}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidMetadata(
                f"NotificationMetadata is invalid: {describe_errors(exc)}"
            ) from exc

    def pool_for(self, group: str) -> str:
        """The pool this hook names, else the group's name, which must then be a valid
        pool name (Auto Scaling allows characters a pool name does not)."""
        if self.pool:
            return self.pool
        if len(group) > POOL_NAME_MAX or not re.match(POOL_NAME_PATTERN, group):
            raise InvalidMetadata(
                f"group name {group!r} cannot be a pool name; name the pool in the hook's "
                'NotificationMetadata: {"pool": "..."}'
            )
        return group


def describe_errors(exc: ValidationError) -> str:
    """One readable line from a pydantic error: `field: message; field: message`.
    Input values are left out so a token can never end up in a log line."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_lifecycle_event(event: object) -> LifecycleEvent:
    """Validate a raw Lambda event; raise InvalidEvent naming every problem."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"event must be a JSON object, got {type(event).__name__}")
    try:
        return LifecycleEvent.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent(f"not a lifecycle action event: {describe_errors(exc)}") from exc


class LaunchRequest(BaseModel):
    """What the launch use case needs from a validated event."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    group: str
    hook: str
    # None when the event was lost and the sweeper finishes the action by instance id.
    token: str | None = Field(default=None, repr=False)
    pool: str = Field(pattern=POOL_NAME_PATTERN, max_length=POOL_NAME_MAX)
    device_index: int = Field(ge=1, le=31)
    # When Auto Scaling emitted the event (None when the sweeper found the instance).
    event_time: datetime | None = None
    # Warm pools: an instance launched into the warm pool (then stopped) gets its ENI
    # when it leaves the pool for the group, with a launch action of its own.
    to_warm_pool: bool = False
    # The hook's policy when the pool is exhausted (None: the stack's OnPoolExhausted).
    on_exhausted: Literal["ABANDON", "WAIT"] | None = None


class TerminateRequest(BaseModel):
    """What the terminate use case needs from a validated event."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    group: str
    hook: str
    token: str = Field(repr=False)


# --- Domain value objects (what the adapters return) ---------------------------------


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
