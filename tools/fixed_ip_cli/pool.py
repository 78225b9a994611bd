"""`fixed-ip pool apply`: the plan (apply.py carries it out; status is in status.py).

Resolve the spec's subnets, check every address against its subnet and the ENIs already
there, and compare the spec with the ENIs tagged with the pool, by (subnet, primary
private address):

    create     the address has no ENI yet: create it, tagged
    retag      the ENI exists but its HostName / Name tag differs: set the tags
    unchanged  the ENI exists with the right tags
    drift      something apply leaves alone: a pool ENI that the spec does not list (without
               --prune, or attached), security groups that differ from the spec
    remove     with --prune: a pool ENI that the spec does not list and that is available

Nothing is ever deleted while attached (AWS refuses it too, and apply checks first), and
running apply twice changes nothing the second time.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from fixed_ip_cli.awsutil import aws_errors
from fixed_ip_cli.enis import POOL_TAG, CliEc2, Eni
from fixed_ip_cli.errors import SpecError
from fixed_ip_cli.spec import AddressSpec, PoolSpec
from fixed_ip_cli.subnets import Subnet, address_problems, resolve_subnets

ACTIONS = ("create", "retag", "unchanged", "drift", "remove")
CHANGES = ("create", "retag", "remove")


@dataclass
class PlanItem:
    action: str
    ip: str
    host_name: str | None
    subnet_id: str | None
    az: str | None
    eni_id: str | None = None
    detail: str = ""
    tags: dict[str, str] = field(default_factory=dict)  # tags to set (create, retag)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    spec: PoolSpec
    subnets: dict[str, Subnet]  # spec ref -> subnet
    items: list[PlanItem]
    prune: bool = False

    def counts(self) -> dict[str, int]:
        found = Counter(item.action for item in self.items)
        return {action: found.get(action, 0) for action in ACTIONS}

    @property
    def changes(self) -> list[PlanItem]:
        return [item for item in self.items if item.action in CHANGES]

    @property
    def in_sync(self) -> bool:
        return all(item.action == "unchanged" for item in self.items)


def _describe_user(eni: Eni) -> str:
    parts = []
    if eni.pool is not None:
        parts.append(f"pool {eni.pool}")
    parts.append(f"attached to {eni.instance_id}" if eni.instance_id else eni.status)
    if eni.description:
        parts.append(repr(eni.description))
    return ", ".join(parts)


def build_plan(ec2: Any, spec: PoolSpec, *, prune: bool = False) -> Plan:
    """Validate the spec against AWS and compare it with the pool; raise SpecError listing
    every problem (bad address, address taken by a non-pool interface) before any change."""
    subnets = resolve_subnets(ec2, spec)
    problems = [p for s, a in spec.addresses for p in address_problems(a, subnets[s.ref])]
    if problems:
        raise SpecError(f"{spec.source}: addresses do not fit their subnets", problems=problems)

    subnet_ids = sorted({s.id for s in subnets.values()})
    reader = CliEc2(ec2, hostname_tag_key=spec.host_name_tag)
    with aws_errors(f"listing the ENIs of pool {spec.pool} and of the spec's subnets"):
        pool_enis = reader.pool(spec.pool)
        subnet_enis = reader.in_subnets(subnet_ids)
    members = {(e.subnet_id, e.ip): e for e in pool_enis}
    users: dict[tuple[str, str], list[Eni]] = defaultdict(list)
    for eni in subnet_enis:
        for ip in eni.addresses:
            users[(eni.subnet_id, ip)].append(eni)

    items: list[PlanItem] = []
    matched: set[str] = set()
    spec_names = {a.host_name.lower(): str(a.ip) for _, a in spec.addresses}
    for entry, address in spec.addresses:
        subnet = subnets[entry.ref]
        key = (subnet.id, str(address.ip))
        member = members.get(key)
        others = [e for e in users.get(key, []) if member is None or e.eni_id != member.eni_id]
        if others:
            eni = others[0]
            adopt = ""
            if eni.pool is None and not eni.instance_id:
                adopt = (
                    f", or adopt it: aws ec2 create-tags --resources {eni.eni_id}"
                    f" --tags Key={POOL_TAG},Value={spec.pool} "
                    f"Key={spec.host_name_tag},Value={address.host_name}"
                )
            problems.append(
                f"{address.where}.ip: {address.ip} in {subnet.label} is already used by "
                f"{eni.eni_id} ({_describe_user(eni)}), which is not a pool "
                f"{spec.pool} ENI: choose another address{adopt}"
            )
            continue
        if member is None:
            items.append(_create_item(spec, subnet, address))
        else:
            matched.add(member.eni_id)
            items.append(_existing_item(spec, subnet, address, member))
    if problems:
        raise SpecError(
            f"{spec.source}: addresses already used by other interfaces", problems=problems
        )

    for eni in pool_enis:
        if eni.eni_id not in matched:
            items.append(_extra_item(spec, eni, spec_names, prune=prune))
    items.sort(key=lambda i: (i.az or "", ipaddress.IPv4Address(i.ip), i.eni_id or ""))
    return Plan(spec=spec, subnets=subnets, items=items, prune=prune)


def _wanted_tags(spec: PoolSpec, address: AddressSpec) -> dict[str, str]:
    return {POOL_TAG: spec.pool, spec.host_name_tag: address.host_name}


def _create_item(spec: PoolSpec, subnet: Subnet, address: AddressSpec) -> PlanItem:
    tags = {**_wanted_tags(spec, address), "Name": address.name or address.host_name}
    return PlanItem(
        action="create",
        ip=str(address.ip),
        host_name=address.host_name,
        subnet_id=subnet.id,
        az=subnet.az,
        detail=f"Name {tags['Name']}",
        tags=tags,
    )


def _existing_item(spec: PoolSpec, subnet: Subnet, address: AddressSpec, eni: Eni) -> PlanItem:
    current = eni.tags
    wanted = _wanted_tags(spec, address)
    if address.name:
        wanted["Name"] = address.name
    diff = {k: v for k, v in wanted.items() if current.get(k) != v}
    holder = eni.instance_id
    item = PlanItem(
        action="retag" if diff else "unchanged",
        ip=str(address.ip),
        host_name=address.host_name,
        subnet_id=subnet.id,
        az=subnet.az,
        eni_id=eni.eni_id,
        tags=diff,
    )
    notes = [f"{k}: {current.get(k) or '(none)'} -> {v}" for k, v in diff.items()]
    if holder and spec.host_name_tag in diff:
        old = current.get(spec.host_name_tag) or "its current name"
        notes.append(f"attached to {holder}, which keeps {old} until it is replaced")
    elif not diff:
        notes.append(f"attached to {holder}" if holder else eni.status)
    groups = list(eni.security_groups)
    if spec.security_groups and groups != sorted(spec.security_groups):
        if item.action == "unchanged":
            item.action = "drift"
            notes = []
        wanted_groups = " ".join(sorted(spec.security_groups))
        notes.append(
            f"security groups {' '.join(groups) or '(none)'} differ from the spec's "
            f"{wanted_groups} (fix: aws ec2 modify-network-interface-attribute "
            f"--network-interface-id {eni.eni_id} --groups {wanted_groups})"
        )
    item.detail = "; ".join(n for n in notes if n)
    return item


def _extra_item(spec: PoolSpec, eni: Eni, spec_names: dict[str, str], *, prune: bool) -> PlanItem:
    host_name = eni.host_name
    holder = eni.instance_id
    available = eni.free
    if prune and available:
        action, detail = "remove", "not in the spec: --prune deletes it"
    elif prune:
        action = "drift"
        detail = f"not in the spec; attached to {holder}: prune never deletes an attached ENI"
    else:
        action = "drift"
        where = f"attached to {holder}" if holder else "available"
        detail = f"not in the spec ({where}); kept: --prune deletes it once available"
    if host_name and host_name.lower() in spec_names and action != "remove":
        detail += (
            f"; its host name {host_name} is also given to {spec_names[host_name.lower()]} "
            "in the spec: two instances could get the same name"
        )
    return PlanItem(
        action=action,
        ip=eni.ip,
        host_name=host_name,
        subnet_id=eni.subnet_id,
        az=eni.az,
        eni_id=eni.eni_id,
        detail=detail,
    )
