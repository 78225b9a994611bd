"""Pool ENIs for the CLI, read through the controller's own EC2 adapter, so that the CLI
sees a pool exactly as the controller does (`PoolEni`: holder, status, host name, tags).

The CLI shows a little more than the controller needs (an ENI's description, security
groups and every address it holds): `Eni` adds those fields to `PoolEni`, whose own fields
the adapter's conversion fills in."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from fixed_ip.adapters.ec2 import Ec2Compute
from fixed_ip.models import PoolEni
from fixed_ip.settings import Settings

# The library's defaults, not copies: the template fixes the pool tag key (PoolTagKey
# AllowedValues) and defaults the host-name tag, hook prefix and headroom as these do.
_DEFAULTS = Settings.model_fields
POOL_TAG: str = _DEFAULTS["pool_tag_key"].default
DEFAULT_HOST_NAME_TAG: str = _DEFAULTS["hostname_tag_key"].default
DEFAULT_HOOK_PREFIX: str = _DEFAULTS["hook_prefix"].default
DEFAULT_MAX_HEALTHY_PERCENT: int = _DEFAULTS["max_healthy_percent"].default


@dataclass(frozen=True)
class Eni(PoolEni):
    description: str = ""
    security_groups: tuple[str, ...] = ()
    addresses: frozenset[str] = frozenset()  # primary and secondary private addresses

    @property
    def pool(self) -> str | None:
        return self.tags.get(POOL_TAG)


class CliEc2(Ec2Compute):
    """The controller's EC2 adapter, plus the two listings only the CLI makes."""

    def _eni(self, raw: dict[str, Any]) -> Eni:
        base = super()._eni(raw)
        values = {f.name: getattr(base, f.name) for f in fields(PoolEni)}
        values.update(
            description=raw.get("Description", ""),
            security_groups=tuple(sorted(g["GroupId"] for g in raw.get("Groups", []))),
            addresses=frozenset(
                {a["PrivateIpAddress"] for a in raw.get("PrivateIpAddresses", [])}
                | {raw.get("PrivateIpAddress", "")}
            ),
        )
        return Eni(**values)

    def pool(self, pool: str) -> list[Eni]:
        return self.list_pool(tag_key=POOL_TAG, pool=pool)  # type: ignore[return-value]

    def every_pool(self) -> list[Eni]:
        """Every ENI carrying the pool tag, whatever the pool."""
        return self._enis([{"Name": "tag-key", "Values": [POOL_TAG]}])  # type: ignore[return-value]

    def in_subnets(self, subnet_ids: list[str]) -> list[Eni]:
        """Every ENI of these subnets, pool member or not (to find addresses in use)."""
        if not subnet_ids:
            return []
        return self._enis([{"Name": "subnet-id", "Values": subnet_ids}])  # type: ignore[return-value]
