"""Pool capacity per AZ as `pool status` and `doctor` show it, computed by the library's
capacity module (`fixed_ip.capacity`, the sweeper's figures): what the CLI shows and what
the sweeper's metrics and alarms say never disagree. This module only adds the lists the
CLI names in its messages (refused ENIs, ENIs held outside the group)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fixed_ip.capacity import Demand, az_share, by_group, host_name_ok
from fixed_ip.models import PoolEni


@dataclass(frozen=True)
class GroupNeed:
    """What a group may run: its max size, raised by the replacements' headroom, over its
    AZs; `members` are its instances (the ENIs they hold count as usable)."""

    name: str
    pool: str
    max_size: int
    azs: tuple[str, ...]
    max_healthy_percent: int
    members: frozenset[str] = frozenset()
    vpc_ids: frozenset[str] = frozenset()

    @property
    def share(self) -> int:
        """Instances per AZ at max size, without headroom."""
        return az_share(self.max_size, len(self.azs), 100)

    @property
    def need(self) -> int:
        return az_share(self.max_size, len(self.azs), self.max_healthy_percent)

    def demand(self) -> Demand:
        return Demand(
            group=self.name,
            pool=self.pool,
            azs=self.azs,
            need=self.need,
            vpc_ids=self.vpc_ids,
            instance_ids=self.members,
        )


@dataclass
class AzCapacity:
    az: str
    total: int = 0  # pool ENIs here, primary interfaces left out (never a fixed address)
    in_use: int = 0  # not available: attached, attaching or detaching
    free: int = 0  # available with a host name the controller accepts (status); for a
    # group: those it could claim (its VPC, admitted by fixed-ip:groups)
    refused: list[PoolEni] = field(default_factory=list)  # available, invalid host name
    held: int = 0  # for a group: held by its instances
    foreign: list[PoolEni] = field(default_factory=list)  # for a group: held by others
    need: int | None = None

    @property
    def usable(self) -> int:
        return self.free + self.held


def pool_totals(enis: Iterable[PoolEni]) -> dict[str, AzCapacity]:
    """`pool status`: per AZ, every pool ENI but primary interfaces."""
    by_az: dict[str, AzCapacity] = {}
    for eni in enis:
        if eni.primary:
            continue
        cap = by_az.setdefault(eni.az, AzCapacity(az=eni.az))
        cap.total += 1
        if not eni.free:
            cap.in_use += 1
        elif host_name_ok(eni.host_name):
            cap.free += 1
        else:
            cap.refused.append(eni)
    return dict(sorted(by_az.items()))


def group_capacity(enis: list[PoolEni], group: GroupNeed) -> list[AzCapacity]:
    """`doctor`: per AZ of the group, the library's figures for it (usable free ENIs,
    ENIs its instances hold, its need), with the ENIs that count for neither."""
    out = []
    for row in by_group(enis, group.demand()):
        # The ENIs this group could ever get here: not a primary interface, in its VPC,
        # admitted by their fixed-ip:groups tag.
        here = [
            e
            for e in enis
            if e.az == row.az
            and not e.primary
            and e.admits(group.name)
            and (not group.vpc_ids or e.vpc_id in group.vpc_ids)
        ]
        cap = AzCapacity(az=row.az, total=len(here), free=row.free, held=row.in_use, need=row.need)
        cap.in_use = sum(1 for e in here if not e.free)
        cap.refused = [e for e in here if e.free and not host_name_ok(e.host_name)]
        cap.foreign = [
            e for e in here if not e.free and not (e.held and e.instance_id in group.members)
        ]
        out.append(cap)
    return out
