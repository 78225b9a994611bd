"""The ports the use cases talk to. Adapters implement them on AWS; tests on fakes."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fixed_ip.models import Instance, ManagedGroup, PoolEni
from fixed_ip.os_config import OsConfig


class Compute(ABC):
    """EC2: instances and pool ENIs."""

    @abstractmethod
    def describe_instance(self, instance_id: str) -> Instance | None:
        """The instance, or None when EC2 no longer knows it."""

    @abstractmethod
    def list_pool_enis(self, *, tag_key: str, pool: str, az: str, vpc_id: str) -> list[PoolEni]:
        """Every ENI of the pool in this AZ and VPC, whatever its status."""

    @abstractmethod
    def attach(self, *, eni_id: str, instance_id: str, device_index: int) -> str:
        """Attach and return the attachment id. Raises EniInUse, EniGone, AttachRejected,
        InstanceGone."""

    @abstractmethod
    def tag_instance(self, instance_id: str, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def enis_of_instance(self, instance_id: str, *, tag_key: str) -> list[PoolEni]:
        """The pool ENIs (any pool) attached to this instance."""

    @abstractmethod
    def describe_enis(self, eni_ids: list[str]) -> list[PoolEni]:
        """These ENIs as they are now (missing ones are left out)."""

    @abstractmethod
    def detach(self, attachment_id: str) -> bool:
        """Detach; False when the attachment no longer exists (already detached)."""

    @abstractmethod
    def describe_instances(self, instance_ids: list[str]) -> list[Instance]:
        """The instances EC2 still knows, among these ids."""

    @abstractmethod
    def list_pool(self, *, tag_key: str, pool: str) -> list[PoolEni]:
        """Every ENI of the pool, in every AZ."""

    @abstractmethod
    def subnet_cidr(self, subnet_id: str) -> str:
        """The subnet's IPv4 CIDR block (immutable: adapters may cache it)."""

    @abstractmethod
    def subnet_vpcs(self, subnet_ids: list[str]) -> dict[str, str]:
        """{subnet id: VPC id} for the subnets that exist among these."""


class Lifecycle(ABC):
    """Auto Scaling: the group's waiting instances and the lifecycle action itself."""

    @abstractmethod
    def waiting_instances(self, group: str, az: str) -> list[str]:
        """Ids of the group's instances in this AZ that are in Pending:Wait."""

    @abstractmethod
    def managed_groups(self, hook_prefix: str) -> list[ManagedGroup]:
        """Groups with at least one lifecycle hook whose name starts with the prefix."""

    @abstractmethod
    def managed_group(self, name: str, hook_prefix: str) -> ManagedGroup | None:
        """That one group, when it has a hook whose name starts with the prefix."""

    @abstractmethod
    def heartbeat(self, *, group: str, hook: str, token: str | None, instance_id: str) -> bool:
        """Restart the hook's timeout; False when the action is no longer active."""

    @abstractmethod
    def complete(
        self, *, group: str, hook: str, token: str | None, instance_id: str, result: str
    ) -> bool:
        """Complete the action (by token, or by instance id when the token is None);
        False when it was no longer active (already done)."""


@dataclass(frozen=True)
class CommandResult:
    status: str  # Pending | InProgress | Delayed | Success | Failed | TimedOut | Cancelled ...
    output: str = ""  # StandardOutputContent (SSM keeps its first 24,000 characters)


class RunCommand(ABC):
    """SSM: the stack's document on an instance."""

    @abstractmethod
    def send_configure(self, instance_id: str, config: OsConfig, timeout_seconds: int) -> str:
        """Send the stack's document; return the command id. Raises AgentNotOnline when
        SSM does not accept the instance yet (agent not registered), DocumentRefused when
        the document refuses a parameter."""

    @abstractmethod
    def command_result(self, command_id: str, instance_id: str) -> CommandResult: ...


class Clock(ABC):
    @abstractmethod
    def monotonic(self) -> float: ...

    @abstractmethod
    def utcnow(self) -> datetime:
        """Wall-clock time, timezone-aware UTC (to compare with AWS timestamps)."""

    @abstractmethod
    def sleep(self, seconds: float) -> None: ...


class Observer(ABC):
    """Where decisions go: one structured log line each, and metrics."""

    @abstractmethod
    def decision(self, what: str, *, level: str = "info", **fields: Any) -> None: ...

    @abstractmethod
    def metric(
        self,
        name: str,
        value: float = 1,
        unit: str = "Count",
        dimensions: dict[str, str] | None = None,
    ) -> None:
        """A metric with the invocation's dimensions, or with `dimensions` instead."""

    # What the controller needs around a use case.
    @abstractmethod
    def bind(self, **fields: Any) -> None:
        """Fields every later decision line carries (instance_id, group, hook, pool)."""

    @abstractmethod
    def add_secret(self, secret: str) -> None:
        """A value never to appear in a line (the lifecycle action token)."""

    @abstractmethod
    def dimension(self, name: str, value: str) -> None:
        """A dimension of the invocation's metrics (Pool)."""

    @abstractmethod
    def flush(self) -> None:
        """Write the invocation's metrics."""


class DimensionedObserver(Observer):
    """`inner`, with `dimensions` on every metric that names none: the sweeper and the
    release path run the launch use case with the launch function's Pool dimension."""

    def __init__(self, inner: Observer, dimensions: dict[str, str], **fields: Any) -> None:
        self.inner = inner
        self.dimensions = dict(dimensions)
        # The inner observer's own method, not a wrapper: the log line's "location"
        # keeps naming the use case that decided. `fields` (the instance a launch run
        # by the release path or the sweeper is about) go on every line; a line's own
        # fields win over them.
        self.decision = (  # type: ignore[method-assign]
            functools.partial(inner.decision, **fields) if fields else inner.decision
        )

    def decision(self, what: str, *, level: str = "info", **fields: Any) -> None:
        self.inner.decision(what, level=level, **fields)  # pragma: no cover - see __init__

    def metric(
        self,
        name: str,
        value: float = 1,
        unit: str = "Count",
        dimensions: dict[str, str] | None = None,
    ) -> None:
        self.inner.metric(name, value, unit, dimensions or self.dimensions)

    def bind(self, **fields: Any) -> None:
        self.inner.bind(**fields)

    def add_secret(self, secret: str) -> None:
        self.inner.add_secret(secret)

    def dimension(self, name: str, value: str) -> None:
        self.dimensions[name] = value

    def flush(self) -> None:
        self.inner.flush()
