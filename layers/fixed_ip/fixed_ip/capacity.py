"""Pool capacity: the one computation of how many addresses a pool has usable, in use and
needed, per pool, group and AZ. Pure; the sweeper's metrics use it, and so should every
other figure (`fixed-ip doctor`, `fixed-ip pool status`), so that they never disagree.

An ENI is *usable* by a group when a launch of that group could claim it: available,
not a primary interface, its host-name tag valid or absent, its `fixed-ip:groups` tag
(if any) admitting the group, and in the group's VPC. Counting every `available` ENI
as free (as the sweeper once did) kept the shortfall alarm quiet while launches were
abandoned `pool_exhausted` over ENIs with a bad host name, reserved for other groups, or
in another VPC."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from fixed_ip.errors import InvalidHostName
from fixed_ip.hostname import validate_hostname
from fixed_ip.models import ManagedGroup, PoolEni


@dataclass
class Capacity:
    """Figures of one pool in one AZ: for one group (`group` set) or for every group
    drawing on the pool there (`group` None)."""

    pool: str
    az: str
    free: int  # usable now
    in_use: int  # held as fixed addresses (by the group's instances, for a group's row)
    need: int  # the most instances the group(s) may run there
    group: str | None = None
    # A pool row: the groups' own shortfalls summed. Groups can be short although the pool
    # looks big enough, when the free ENIs are reserved for (or only usable by) others.
    groups_short: int = 0

    @property
    def shortfall(self) -> int:
        return max(0, self.need - self.free - self.in_use, self.groups_short)


@dataclass(frozen=True)
class Demand:
    """One group drawing on one pool: where it runs and how much it may need per AZ."""

    group: str
    pool: str
    azs: tuple[str, ...]
    need: int  # per AZ (az_need)
    # The VPCs of its subnets; empty when unknown (then any VPC counts).
    vpc_ids: frozenset[str] = frozenset()
    instance_ids: frozenset[str] = frozenset()


def az_share(max_size: int, azs: int, max_healthy_percent: int) -> int:
    """The most instances a group may run in one of its `azs` AZs: its maximum size,
    raised by the headroom replacements may take, spread evenly (rounded up)."""
    ceiling = math.ceil(max_size * max(100, max_healthy_percent) / 100)
    return math.ceil(ceiling / max(1, azs))


def az_need(group: ManagedGroup, default_max_healthy_percent: int) -> int:
    """`az_share` of the group, with its own MaxHealthyPercentage if it has one."""
    percent = group.max_healthy_percentage or default_max_healthy_percent
    return az_share(group.max_size, len(group.azs), percent)


def demand(
    group: ManagedGroup,
    pool: str,
    default_max_healthy_percent: int,
    subnet_vpcs: Mapping[str, str] | None = None,
) -> Demand:
    """The group's demand on `pool`; `subnet_vpcs` maps its subnets to their VPC."""
    vpcs = frozenset((subnet_vpcs or {})[s] for s in group.subnet_ids if s in (subnet_vpcs or {}))
    return Demand(
        group=group.name,
        pool=pool,
        azs=group.azs,
        need=az_need(group, default_max_healthy_percent),
        vpc_ids=vpcs,
        instance_ids=frozenset(i.instance_id for i in group.instances),
    )


def host_name_ok(host_name: str | None) -> bool:
    """A valid host name, or none at all (the host name tag is optional)."""
    if host_name is None:
        return True
    try:
        validate_hostname(host_name)
    except InvalidHostName:
        return False
    return True


def usable_by(eni: PoolEni, group: str, vpc_ids: frozenset[str] = frozenset()) -> bool:
    """Whether a launch of `group` could claim `eni` now."""
    return (
        eni.free
        and not eni.primary
        and host_name_ok(eni.host_name)
        and eni.admits(group)
        and (not vpc_ids or eni.vpc_id in vpc_ids)
    )


def as_seen(enis: Iterable[PoolEni], freed: frozenset[str]) -> list[PoolEni]:
    """The ENIs, with those released during the pass (`freed`, whose detach may not show
    yet) taken as available."""
    return [
        replace(e, status="available", instance_id=None, device_index=None, attachment_id=None)
        if e.eni_id in freed
        else e
        for e in enis
    ]


def by_group(enis: Iterable[PoolEni], d: Demand, freed: Iterable[str] = ()) -> list[Capacity]:
    """One row per AZ of the group: ENIs of its pool it could claim, ENIs its instances
    hold, and its need."""
    seen = as_seen(enis, frozenset(freed))
    rows = []
    for az in d.azs:
        here = [e for e in seen if e.az == az]
        rows.append(
            Capacity(
                pool=d.pool,
                az=az,
                group=d.group,
                free=sum(1 for e in here if usable_by(e, d.group, d.vpc_ids)),
                in_use=sum(1 for e in here if e.held and e.instance_id in d.instance_ids),
                need=d.need,
            )
        )
    return rows


def by_pool(
    pools: Mapping[str, Iterable[PoolEni]], demands: Iterable[Demand], freed: Iterable[str] = ()
) -> list[Capacity]:
    """One row per pool and AZ its groups run in, sorted: ENIs usable by at least one of
    those groups, ENIs held (by anyone), the groups' needs added up, and their own
    shortfalls added up."""
    freed = frozenset(freed)
    by_key: dict[tuple[str, str], list[Demand]] = defaultdict(list)
    for d in demands:
        for az in d.azs:
            by_key[(d.pool, az)].append(d)
    rows = []
    for (pool, az), ds in sorted(by_key.items()):
        here = [e for e in as_seen(pools.get(pool, ()), freed) if e.az == az]
        groups_short = 0
        for d in ds:
            [mine] = [r for r in by_group(here, d) if r.az == az]
            groups_short += mine.shortfall
        rows.append(
            Capacity(
                pool=pool,
                az=az,
                free=sum(1 for e in here if any(usable_by(e, d.group, d.vpc_ids) for d in ds)),
                in_use=sum(1 for e in here if e.held),
                need=sum(d.need for d in ds),
                groups_short=groups_short,
            )
        )
    return rows


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
