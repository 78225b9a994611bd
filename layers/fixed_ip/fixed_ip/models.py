"""Event and metadata models (pydantic v2): the lifecycle event, the hook's metadata and
the requests the use cases take. The value objects are in fixed_ip.domain."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# The domain's value objects live in fixed_ip.domain; importing them from here still
# works so that callers need not know where the line between the two modules runs.
from fixed_ip.domain import (  # noqa: F401
    GROUPS_TAG,
    LAUNCHING,
    TERMINATING,
    GroupInstance,
    Hook,
    Instance,
    Interface,
    ManagedGroup,
    PoolEni,
    groups_admit,
)
from fixed_ip.errors import InvalidEvent, InvalidMetadata

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
