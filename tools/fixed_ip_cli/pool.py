"""`fixed-ip pool apply` (status is in status.py).

apply: resolve the spec's subnets, check every address against its subnet and the ENIs
already there, build a plan, and carry it out. The plan compares the spec with the ENIs
tagged with the pool, by (subnet, primary private address):

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

from botocore.exceptions import ClientError

from fixed_ip_cli.awsutil import aws_errors, error_code, paginate, tags_of
from fixed_ip_cli.enis import POOL_TAG, CliEc2, Eni
from fixed_ip_cli.errors import AwsError, SpecError
from fixed_ip_cli.render import Progress
from fixed_ip_cli.spec import AddressSpec, PoolSpec, SubnetSpec

ACTIONS = ("create", "retag", "unchanged", "drift", "remove")
CHANGES = ("create", "retag", "remove")


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str | None
    vpc_id: str
    az: str
    cidr: ipaddress.IPv4Network

    @property
    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id


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


# ----------------------------------------------------------------------------- resolve


def resolve_vpc(ec2: Any, ref: str) -> str:
    by_id = ref.startswith("vpc-")
    flt = {"Name": "vpc-id" if by_id else "tag:Name", "Values": [ref]}
    with aws_errors(f"looking up VPC {ref}"):
        vpcs = paginate(ec2, "describe_vpcs", "Vpcs", Filters=[flt])
    if not vpcs:
        what = "no VPC with id" if by_id else "no VPC whose Name tag is"
        raise SpecError(f"vpc: {what} {ref} in region {ec2.meta.region_name} (check --region)")
    if len(vpcs) > 1:
        ids = ", ".join(sorted(v["VpcId"] for v in vpcs))
        raise SpecError(f"vpc: {len(vpcs)} VPCs are named {ref} ({ids}); give the VPC id")
    return str(vpcs[0]["VpcId"])


def resolve_subnets(ec2: Any, spec: PoolSpec) -> dict[str, Subnet]:
    """The subnet of every `subnet:` entry, by id or Name tag (within `vpc:` if given)."""
    region = ec2.meta.region_name
    vpc_filter = []
    if spec.vpc:
        vpc_filter = [{"Name": "vpc-id", "Values": [resolve_vpc(ec2, spec.vpc)]}]
    ids = [s.ref for s in spec.subnets if s.is_id]
    names = [s.ref for s in spec.subnets if not s.is_id]
    found: list[dict[str, Any]] = []
    with aws_errors("looking up the spec's subnets"):
        if ids:
            found += paginate(
                ec2,
                "describe_subnets",
                "Subnets",
                Filters=[{"Name": "subnet-id", "Values": ids}, *vpc_filter],
            )
        if names:
            found += paginate(
                ec2,
                "describe_subnets",
                "Subnets",
                Filters=[{"Name": "tag:Name", "Values": names}, *vpc_filter],
            )
    by_ref: dict[str, list[Subnet]] = defaultdict(list)
    for raw in found:
        subnet = Subnet(
            id=raw["SubnetId"],
            name=tags_of(raw).get("Name"),
            vpc_id=raw["VpcId"],
            az=raw["AvailabilityZone"],
            cidr=ipaddress.IPv4Network(raw["CidrBlock"]),
        )
        by_ref[subnet.id].append(subnet)
        if subnet.name:
            by_ref[subnet.name].append(subnet)
    problems = []
    resolved: dict[str, Subnet] = {}
    where_in_vpc = f" in VPC {spec.vpc}" if spec.vpc else ""
    for entry in spec.subnets:
        matches = {s.id: s for s in by_ref.get(entry.ref, [])}
        if not matches:
            what = "no subnet" if entry.is_id else "no subnet whose Name tag is"
            problems.append(
                f"{entry.where}.subnet: {what} {entry.ref}{where_in_vpc} in region {region} "
                "(check the id or Name tag, --region, --profile)"
            )
        elif len(matches) > 1:
            listing = ", ".join(f"{s.id} in {s.vpc_id}" for s in matches.values())
            problems.append(
                f"{entry.where}.subnet: {len(matches)} subnets are named {entry.ref} "
                f"({listing}); give the subnet id, or `vpc:` in the spec"
            )
        else:
            resolved[entry.ref] = next(iter(matches.values()))
    seen: dict[str, SubnetSpec] = {}
    for entry in spec.subnets:
        subnet = resolved.get(entry.ref)
        if subnet is None:
            continue
        if subnet.id in seen:
            problems.append(
                f"{entry.where}.subnet: {entry.ref} is {subnet.id}, already listed at "
                f"{seen[subnet.id].where} as {seen[subnet.id].ref}; merge the two entries"
            )
        seen.setdefault(subnet.id, entry)
    if problems:
        raise SpecError(f"{spec.source}: the spec's subnets do not resolve", problems=problems)
    return resolved


def address_problems(address: AddressSpec, subnet: Subnet) -> list[str]:
    """An address must lie inside its subnet and not be one AWS reserves: the first four
    (network, VPC router, DNS, future use) and the last (broadcast)."""
    cidr = subnet.cidr
    first_usable = cidr.network_address + 4
    last_usable = cidr.broadcast_address - 1
    if address.ip not in cidr:
        return [
            f"{address.where}.ip: {address.ip} is outside {subnet.label}: {cidr} in "
            f"{subnet.az}; use {first_usable} to {last_usable}"
        ]
    if address.ip < first_usable or address.ip == cidr.broadcast_address:
        return [
            f"{address.where}.ip: {address.ip} is reserved by AWS in {subnet.label}: the "
            f"first four addresses of {cidr} and its last cannot be assigned; use "
            f"{first_usable} to {last_usable}"
        ]
    return []


# -------------------------------------------------------------------------------- plan


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


# ------------------------------------------------------------------------------- apply


@dataclass
class ApplyResult:
    created: int = 0
    retagged: int = 0
    removed: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_plan(ec2: Any, plan: Plan, progress: Progress) -> ApplyResult:
    """Carry out the plan's changes in order: create, retag, remove. Stops at the first AWS
    error; what was done stays done, and running apply again resumes (it is idempotent)."""
    result = ApplyResult()
    todo = sorted(plan.changes, key=lambda i: CHANGES.index(i.action))
    with progress.steps(len(todo), f"pool {plan.spec.pool}") as advance:
        for n, item in enumerate(todo, 1):
            step = f"[{n}/{len(todo)}] {item.action} {item.ip} {item.host_name or ''}".rstrip()
            try:
                advance(f"{step}: {_apply_item(ec2, plan, item, result)}")
            except AwsError as exc:
                raise AwsError(
                    f"{exc.message}. {n - 1} of {len(todo)} changes were made; fix the cause "
                    "and run the same command again (apply is idempotent)"
                ) from exc
    return result


def _apply_item(ec2: Any, plan: Plan, item: PlanItem, result: ApplyResult) -> str:
    """Carry out one change; what was done, for the progress line."""
    if item.action == "create":
        item.eni_id = _create(ec2, plan.spec, item)
        result.created += 1
        return f"created {item.eni_id} in {item.subnet_id}"
    if item.action == "retag":
        _retag(ec2, item)
        result.retagged += 1
        return f"tagged {item.eni_id}"
    skipped = _remove(ec2, item)
    if skipped:
        result.skipped.append(f"{item.eni_id} ({item.ip}): {skipped}")
        return f"skipped {item.eni_id}: {skipped}"
    result.removed += 1
    return f"deleted {item.eni_id}"


def _create(ec2: Any, spec: PoolSpec, item: PlanItem) -> str:
    params: dict[str, Any] = {
        "SubnetId": item.subnet_id,
        "PrivateIpAddress": item.ip,
        "Description": f"fixed-ip pool {spec.pool}: {item.host_name}",
        "TagSpecifications": [
            {
                "ResourceType": "network-interface",
                "Tags": [{"Key": k, "Value": v} for k, v in item.tags.items()],
            }
        ],
    }
    if spec.security_groups:
        params["Groups"] = list(spec.security_groups)
    with aws_errors(f"creating the ENI for {item.ip} ({item.host_name}) in {item.subnet_id}"):
        eni = ec2.create_network_interface(**params)
    return str(eni["NetworkInterface"]["NetworkInterfaceId"])


def _retag(ec2: Any, item: PlanItem) -> None:
    with aws_errors(f"tagging {item.eni_id} ({item.ip})"):
        ec2.create_tags(
            Resources=[item.eni_id], Tags=[{"Key": k, "Value": v} for k, v in item.tags.items()]
        )


def _remove(ec2: Any, item: PlanItem) -> str | None:
    """Delete an ENI that is still available; return why it was skipped otherwise."""
    with aws_errors(f"deleting {item.eni_id} ({item.ip})"):
        try:
            # Re-read just before deleting: the controller may have claimed it since the plan.
            current = CliEc2(ec2).describe_enis([item.eni_id])
            if not current:
                return "already deleted"
            eni = current[0]
            if not eni.free:
                return f"now {eni.status}, attached to {eni.instance_id}: kept"
            ec2.delete_network_interface(NetworkInterfaceId=item.eni_id)
        except ClientError as exc:
            code = error_code(exc)
            if code == "InvalidNetworkInterfaceID.NotFound":
                return "already deleted"
            if code == "InvalidNetworkInterface.InUse":
                return "attached meanwhile: kept"
            raise
    return None
