"""Pool capacity per AZ, as `pool status` and `doctor` show it: free, in use and refused
ENIs, and for a group what it may use and need there.

The need is the library's (`fixed_ip.capacity.az_share`, the sweeper's figure). What
counts as usable is still computed here, in one function, `pool_capacity`, for both
commands: when the library's capacity module counts usable ENIs per group itself, this
function becomes a call to it and only this file changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fixed_ip.capacity import az_share
from fixed_ip.errors import InvalidHostName
from fixed_ip.hostname import validate_hostname
from fixed_ip.models import PoolEni


def valid_host_name(value: str | None) -> bool:
    """Whether the controller hands out an ENI with this host name: it validates it with
    the same function (and today refuses an ENI without one)."""
    try:
        validate_hostname(value)
    except InvalidHostName:
        return False
    return True


@dataclass(frozen=True)
class GroupNeed:
    """What a group may run: its max size, raised by the replacements' headroom, over its
    AZs; `members` are its instances (their ENIs count as usable)."""

    name: str
    max_size: int
    azs: tuple[str, ...]
    max_healthy_percent: int
    members: frozenset[str] = frozenset()

    @property
    def share(self) -> int:
        """Instances per AZ at max size, without headroom."""
        return az_share(self.max_size, len(self.azs), 100)

    @property
    def need(self) -> int:
        return az_share(self.max_size, len(self.azs), self.max_healthy_percent)


@dataclass
class AzCapacity:
    az: str
    total: int = 0
    in_use: int = 0  # attached, attaching or detaching
    free: int = 0  # available, with a host name the controller accepts
    refused: list[PoolEni] = field(default_factory=list)  # invalid host name, any state
    usable: int = 0  # for the group: free ones plus those its own instances hold
    foreign: list[PoolEni] = field(default_factory=list)  # not free, not the group's
    need: int | None = None

    @property
    def refused_free(self) -> int:
        """Available ENIs nobody gets (the rest of `total` is free or in use)."""
        return sum(1 for e in self.refused if e.free)


def pool_capacity(enis: Iterable[PoolEni], group: GroupNeed | None = None) -> dict[str, AzCapacity]:
    """Per AZ; with a group, its AZs only (each, even one without ENIs) and what it may
    use and need there."""
    by_az: dict[str, AzCapacity] = {}
    for az in group.azs if group else ():
        by_az[az] = AzCapacity(az=az, need=group.need if group else None)
    for eni in enis:
        if group is not None and eni.az not in by_az:
            continue
        cap = by_az.setdefault(eni.az, AzCapacity(az=eni.az))
        cap.total += 1
        if not eni.free:
            cap.in_use += 1
        if not valid_host_name(eni.host_name):
            cap.refused.append(eni)  # the controller never hands it out
        elif eni.free:
            cap.free += 1
            cap.usable += 1
        elif group is not None and eni.instance_id in group.members:
            cap.usable += 1
        elif group is not None:
            cap.foreign.append(eni)
    return dict(sorted(by_az.items()))
