"""The spec's subnets as AWS has them (by id or Name tag, within the spec's VPC), and the
addresses AWS lets a pool use in them."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from fixed_ip_cli.awsutil import aws_errors, paginate, tags_of
from fixed_ip_cli.errors import SpecError
from fixed_ip_cli.spec import AddressSpec, PoolSpec, SubnetSpec


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
