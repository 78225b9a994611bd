"""The queue of instances waiting for an address (policy WAIT), and serving it.

There is no queue of our own and no Lambda sits idle: the queue is the set of the
group's instances in Pending:Wait that hold no pool ENI, as Auto Scaling lists them,
longest-waiting (earliest launched) first. It is served by the release path right after
it frees an ENI, and by each sweeper pass, both running the normal launch path for the
instance by instance id (token None), as the sweeper does for a lost launch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fixed_ip.decision import WAIT
from fixed_ip.errors import InvalidEvent
from fixed_ip.models import HookMetadata, Instance, LaunchRequest, ManagedGroup
from fixed_ip.ports import Compute, DimensionedObserver, Observer
from fixed_ip.settings import Settings

PENDING_WAIT = "Pending:Wait"
# An instance launched into the warm pool waits here before it is stopped.
WARMED_PENDING_WAIT = "Warmed:Pending:Wait"
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LaunchHookOf:
    """A managed group's launch hook, as the launch path reads it."""

    group: str
    hook: str
    pool: str
    metadata: HookMetadata
    policy: str  # WAIT | ABANDON

    def request(
        self, settings: Settings, instance_id: str, *, to_warm_pool: bool = False
    ) -> LaunchRequest:
        """The launch path's input for one instance of the group, by instance id (the
        event's token is not known here); `to_warm_pool` for an instance launched into
        the warm pool (Warmed:Pending:Wait), which gets no address yet."""
        return LaunchRequest(
            instance_id=instance_id,
            group=self.group,
            hook=self.hook,
            token=None,
            pool=self.pool,
            device_index=self.metadata.device_index or settings.device_index,
            on_exhausted=self.metadata.on_exhausted,
            to_warm_pool=to_warm_pool,
        )

    def observer_for(self, observer: Observer, instance_id: str) -> Observer:
        """`observer` for a launch of one instance run by id (the release path, the
        sweeper): its metrics carry the launch function's Pool dimension, every line the
        instance, group, hook and pool."""
        return DimensionedObserver(
            observer,
            {"Pool": self.pool},
            instance_id=instance_id,
            group=self.group,
            hook=self.hook,
            pool=self.pool,
        )


def launch_hook_of(group: ManagedGroup, settings: Settings) -> LaunchHookOf | None:
    """The group's (first) fixed-ip launch hook; None when it has none. Raises
    InvalidMetadata when its NotificationMetadata cannot be served."""
    hooks = group.launch_hooks()
    if not hooks:
        return None
    metadata = HookMetadata.from_notification(hooks[0].metadata)
    return LaunchHookOf(
        group=group.name,
        hook=hooks[0].name,
        pool=metadata.pool_for(group.name),
        metadata=metadata,
        policy=metadata.on_exhausted or settings.on_pool_exhausted,
    )


def waiting(compute: Compute, group: ManagedGroup, az: str, device_index: int) -> list[Instance]:
    """The group's Pending:Wait instances in `az` that hold nothing at `device_index`,
    longest-waiting first. One that holds an interface there is in the middle of its own
    launch (its SSM step running): serving it again would only send a second command."""
    ids = [
        gi.instance_id
        for gi in group.instances
        if gi.lifecycle_state == PENDING_WAIT and gi.az == az
    ]
    if not ids:
        return []
    found = [i for i in compute.describe_instances(ids) if i.interface_at(device_index) is None]
    return sorted(found, key=lambda i: (i.launch_time or _NEVER, i.instance_id))


def safe_launch_hook(group: ManagedGroup, settings: Settings) -> LaunchHookOf | None:
    """`launch_hook_of`, or None when its metadata cannot be served (the launch path
    and the sweeper report that hook; the release path just serves nobody)."""
    try:
        return launch_hook_of(group, settings)
    except InvalidEvent:
        return None


__all__ = ["WAIT", "LaunchHookOf", "launch_hook_of", "safe_launch_hook", "waiting"]
