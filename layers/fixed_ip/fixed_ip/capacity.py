"""Pool capacity: how many addresses a pool has free and in use per AZ, against what its
groups may need there. Pure; shared by the sweeper's metrics and the operator CLI."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from fixed_ip.models import ManagedGroup, PoolEni


@dataclass
class Capacity:
    pool: str
    az: str
    free: int
    in_use: int
    need: int

    @property
    def shortfall(self) -> int:
        return max(0, self.need - self.free - self.in_use)


def az_share(max_size: int, azs: int, max_healthy_percent: int) -> int:
    """The most instances a group may run in one of its `azs` AZs: its maximum size,
    raised by the headroom replacements may take, spread evenly (rounded up)."""
    ceiling = math.ceil(max_size * max(100, max_healthy_percent) / 100)
    return math.ceil(ceiling / max(1, azs))


def az_need(group: ManagedGroup, default_max_healthy_percent: int) -> int:
    """`az_share` of the group, with its own MaxHealthyPercentage if it has one."""
    percent = group.max_healthy_percentage or default_max_healthy_percent
    return az_share(group.max_size, len(group.azs), percent)


def in_az(pool: str, az: str, enis: Iterable[PoolEni], need: int, freed: set[str]) -> Capacity:
    """The capacity of `pool` in `az` from its ENIs; `freed` are ENIs released during
    the pass (their detach may not show yet)."""
    here = [e for e in enis if e.az == az]
    free = sum(1 for e in here if e.free or e.eni_id in freed)
    return Capacity(pool=pool, az=az, free=free, in_use=len(here) - free, need=need)


@dataclass(frozen=True)
class RefreshHeadroom:
    """Whether a pool can carry an instance refresh (or any rolling replacement) of a
    group in one AZ, and what to change when it cannot."""

    pool: str
    az: str
    addresses: int  # the pool's ENIs in the AZ that admit the group
    need: int  # the most instances of the group the AZ may hold during the refresh
    max_healthy_percent: int

    @property
    def missing(self) -> int:
        return max(0, self.need - self.addresses)

    @property
    def ok(self) -> bool:
        return self.missing == 0

    def advice(self) -> str:
        """One line for the operator, naming the setting to change or the addresses to add."""
        if self.ok:
            return (
                f"pool {self.pool!r} in {self.az}: {self.addresses} addresses for up to "
                f"{self.need} instances during a refresh at MaxHealthyPercentage "
                f"{self.max_healthy_percent}: OK"
            )
        return (
            f"pool {self.pool!r} in {self.az}: {self.addresses} addresses, but a launch-first "
            f"refresh (MaxHealthyPercentage {self.max_healthy_percent}) may run {self.need} "
            f"instances there: add {self.missing} address(es) in {self.az}, or refresh "
            "terminate-first (MaxHealthyPercentage 100, MinHealthyPercentage below 100), "
            "where every replacement reuses the address its predecessor released"
        )


def refresh_headroom(
    group: ManagedGroup,
    pool: str,
    enis: Iterable[PoolEni],
    max_healthy_percent: int | None = None,
) -> list[RefreshHeadroom]:
    """Per AZ of the group: can `pool` carry a rolling replacement of the group?

    A launch-first refresh (MaxHealthyPercentage above 100) starts the new instances
    before it terminates the old ones, so the AZ may hold the group's maximum size times
    MaxHealthyPercentage (shared over its AZs) at once, each needing an address; a
    terminate-first one (100) never holds more than the maximum. `max_healthy_percent`
    is the refresh's own preference when given, else the group's
    InstanceMaintenancePolicy, else 100 (what AWS uses without either)."""
    percent = max_healthy_percent or group.max_healthy_percentage or 100
    listed = list(enis)
    result = []
    for az in group.azs:
        addresses = sum(1 for e in listed if e.az == az and e.admits(group.name))
        need = az_share(group.max_size, len(group.azs), percent)
        result.append(
            RefreshHeadroom(
                pool=pool, az=az, addresses=addresses, need=need, max_healthy_percent=percent
            )
        )
    return result
