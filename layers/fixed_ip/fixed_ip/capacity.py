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
