"""Function settings, read from the environment once per container by the handler.

The template sets every variable; a missing or malformed one is a ConfigurationError
that names the variable, never a silent default for something the operator chose."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fixed_ip.errors import ConfigurationError

ENV_PREFIX = "FIXED_IP_"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    pool_tag_key: str = Field(default="fixed-ip:pool", min_length=1, max_length=128)
    hostname_tag_key: str = Field(default="HostName", min_length=1, max_length=128)
    device_index: int = Field(default=1, ge=1, le=31)
    on_hostname_failure: Literal["ABANDON", "CONTINUE"] = "ABANDON"
    # Pool exhausted in the instance's AZ: WAIT (in Pending:Wait, for the next address
    # released there) or ABANDON (Auto Scaling then launches a replacement, which finds
    # the same pool: relaunch churn). A hook may override it (`on_exhausted`).
    on_pool_exhausted: Literal["ABANDON", "WAIT"] = "WAIT"
    # WAIT's bound, from the instance's launch (when its Pending:Wait began): past it the
    # wait ends ABANDON pool_exhausted. Auto Scaling ends any lifecycle action after 48 h
    # or 100 heartbeat timeouts, whichever is shorter: keep the bound below that.
    wait_for_address_seconds: int = Field(default=3600, ge=0, le=172800)
    ssm_wait_seconds: int = Field(default=300, ge=0, le=900)
    command_timeout_seconds: int = Field(default=60, ge=30, le=900)
    hook_prefix: str = Field(default="fixed-ip", min_length=1)
    # The Auto Scaling groups this stack may act on: the template's ManagedGroupPattern,
    # with IAM StringLike semantics (`*` any run of characters, `?` one character).
    # Enforced in code as well as by IAM, so a group outside it is refused before any
    # AWS call (not even ABANDON: the group is not ours), and the sweeper skips it.
    managed_group_pattern: str = Field(default="*", min_length=1, max_length=255)
    # Required: the stack-owned SSM document that configures the address and host name.
    document: str = Field(min_length=3, max_length=128)
    # configure: the document configures the fixed address in the OS and verifies it;
    # verify: the operator configures the OS, the document only verifies; skip: no
    # address work on the instance (gives up the promise; the host name is still set).
    os_configuration: Literal["configure", "verify", "skip"] = "configure"
    # How often to record a lifecycle heartbeat while waiting on SSM.
    heartbeat_interval_seconds: int = Field(default=60, ge=10, le=3600)
    # Poll intervals while waiting on SSM (not template parameters: the defaults suit AWS;
    # the local simulation shortens them).
    agent_poll_seconds: float = Field(default=5.0, gt=0, le=60)
    command_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    # Terminate path: how long to wait for a detached ENI to become available.
    release_wait_seconds: int = Field(default=60, ge=0, le=600)
    # Sweeper: a Pending:Wait instance older than this without its ENI lost its event;
    # an ENI on an instance that stopped existing this long ago has leaked.
    lost_launch_grace_seconds: int = Field(default=600, ge=0, le=86400)
    leak_grace_seconds: int = Field(default=300, ge=0, le=86400)
    # Capacity: the headroom (percent of max size) replacements may need above the
    # maximum when the group has no InstanceMaintenancePolicy (AWS may exceed the
    # maximum by 10% while rebalancing AZs).
    max_healthy_percent: int = Field(default=110, ge=100, le=200)
    # Seconds kept in reserve before the Lambda deadline to complete the action.
    deadline_reserve_seconds: int = Field(default=10, ge=1, le=120)

    @cached_property
    def _managed_group_regex(self) -> re.Pattern[str]:
        # StringLike: only * and ? are special; everything else (even [ ]) is literal,
        # and the match is case-sensitive, on the whole name.
        parts = (
            ".*" if c == "*" else "." if c == "?" else re.escape(c)
            for c in self.managed_group_pattern
        )
        return re.compile("".join(parts), re.DOTALL)

    def manages(self, group: str) -> bool:
        """Whether `group` matches ManagedGroupPattern, as IAM StringLike matches it."""
        return self._managed_group_regex.fullmatch(group) is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in environ.items()
            if key.startswith(ENV_PREFIX)
        }
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            raise ConfigurationError(f"invalid function configuration: {problems}") from exc
