"""The pool spec: a YAML file naming a pool and, per subnet, its fixed addresses and host
names. This module checks everything that can be checked without AWS; `pool.py` checks
the rest (subnets exist, addresses inside their CIDR, addresses not taken).

    pool: web                         # ENI tag fixed-ip:pool = web
    host_name_tag: HostName           # optional (the stack's HostNameTagKey)
    vpc: fixed-ip-example             # optional: VPC id or Name tag, narrows subnet names
    security_groups: [sg-0123...]     # optional: for new ENIs (default: the VPC's default)
    subnets:
      - subnet: fixed-ip-example-a    # a subnet id (subnet-...) or the value of its Name tag
        addresses:
          - {ip: 10.0.0.4, host_name: server-a1, name: AZ-a_ENI1}   # name: optional Name tag
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fixed_ip.errors import InvalidHostName
from fixed_ip.hostname import validate_hostname
from fixed_ip_cli.errors import SpecError

POOL_TAG = "fixed-ip:pool"  # fixed by template.yaml (PoolTagKey AllowedValues)
DEFAULT_HOST_NAME_TAG = "HostName"
# EC2 tag value limits; a pool name is also a StringLike-safe tag value for the controller.
POOL_NAME = re.compile(r"^[\w .:/=+\-@]{1,255}$")
TAG_KEY = re.compile(r"^(?!aws:)[\w .:/=+\-@]{1,128}$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")

_TOP_KEYS = ("pool", "host_name_tag", "vpc", "security_groups", "subnets")
_SUBNET_KEYS = ("subnet", "addresses")
_ADDRESS_KEYS = ("ip", "host_name", "name")


@dataclass(frozen=True)
class AddressSpec:
    ip: ipaddress.IPv4Address
    host_name: str
    name: str | None  # Name tag; None: the host name for new ENIs, left alone on others
    where: str  # position in the file, for messages: subnets[0].addresses[2]


@dataclass(frozen=True)
class SubnetSpec:
    ref: str  # subnet id or Name tag value
    addresses: tuple[AddressSpec, ...]
    where: str

    @property
    def is_id(self) -> bool:
        return self.ref.startswith("subnet-")


@dataclass(frozen=True)
class PoolSpec:
    pool: str
    subnets: tuple[SubnetSpec, ...]
    host_name_tag: str = DEFAULT_HOST_NAME_TAG
    vpc: str | None = None
    security_groups: tuple[str, ...] = ()
    source: str = "<spec>"

    @property
    def addresses(self) -> list[tuple[SubnetSpec, AddressSpec]]:
        return [(s, a) for s in self.subnets for a in s.addresses]


def load_spec(path: str | Path) -> PoolSpec:
    """Read and validate a spec file; SpecError lists every problem found."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read pool spec {source}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{source}: not valid YAML{where}: {problem}") from exc
    return parse_spec(data, source=source)


def parse_spec(data: Any, *, source: str = "<spec>") -> PoolSpec:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SpecError(
            f"{source}: a pool spec is a YAML mapping with `pool` and `subnets`, "
            f"got {type(data).__name__}"
        )
    _unknown_keys(data, _TOP_KEYS, "", problems)

    pool = data.get("pool")
    if not isinstance(pool, str) or not POOL_NAME.match(pool):
        problems.append(
            f"pool: {pool!r} is not a pool name (1-255 letters, digits, spaces and "
            "_ . : / = + - @; it becomes the value of the ENI tag fixed-ip:pool)"
        )
    host_name_tag = data.get("host_name_tag", DEFAULT_HOST_NAME_TAG)
    if not isinstance(host_name_tag, str) or not TAG_KEY.match(host_name_tag):
        problems.append(
            f"host_name_tag: {host_name_tag!r} is not an EC2 tag key "
            "(1-128 characters, not starting with aws:)"
        )
    vpc = data.get("vpc")
    if vpc is not None and (not isinstance(vpc, str) or not vpc):
        problems.append(f"vpc: {vpc!r} must be a VPC id (vpc-...) or the value of its Name tag")
    groups = data.get("security_groups", [])
    if not isinstance(groups, list) or not all(
        isinstance(g, str) and SECURITY_GROUP_ID.match(g) for g in groups
    ):
        problems.append(f"security_groups: {groups!r} must be a list of ids like sg-0123abcd")
        groups = []

    subnets = _parse_subnets(data.get("subnets"), problems)
    _check_duplicates(subnets, problems)
    if problems:
        raise SpecError(
            f"{source}: {len(problems)} problem{'s' if len(problems) > 1 else ''} in the pool "
            "spec (nothing was changed)",
            problems=problems,
        )
    return PoolSpec(
        pool=str(pool),
        subnets=tuple(subnets),
        host_name_tag=str(host_name_tag),
        vpc=vpc,
        security_groups=tuple(groups),
        source=source,
    )


def _unknown_keys(
    data: dict[Any, Any], allowed: tuple[str, ...], where: str, out: list[str]
) -> None:
    for key in data:
        if key not in allowed:
            out.append(f"{where}{key}: unknown key (allowed: {', '.join(allowed)})")


def _parse_subnets(raw: Any, problems: list[str]) -> list[SubnetSpec]:
    if not isinstance(raw, list) or not raw:
        problems.append("subnets: give a list of subnets, each with `subnet` and `addresses`")
        return []
    subnets = []
    for i, item in enumerate(raw):
        where = f"subnets[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping with `subnet` and `addresses`")
            continue
        _unknown_keys(item, _SUBNET_KEYS, f"{where}.", problems)
        ref = item.get("subnet")
        if not isinstance(ref, str) or not ref.strip():
            problems.append(f"{where}.subnet: give a subnet id (subnet-...) or its Name tag")
            ref = "?"
        addresses = _parse_addresses(item.get("addresses"), where, problems)
        subnets.append(SubnetSpec(ref=ref.strip(), addresses=tuple(addresses), where=where))
    return subnets


def _parse_addresses(raw: Any, parent: str, problems: list[str]) -> list[AddressSpec]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{parent}.addresses: give a list of {{ip, host_name}} entries")
        return []
    out = []
    for j, item in enumerate(raw):
        where = f"{parent}.addresses[{j}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping like {{ip: 10.0.0.4, host_name: a1}}")
            continue
        _unknown_keys(item, _ADDRESS_KEYS, f"{where}.", problems)
        ip = _parse_ip(item.get("ip"), where, problems)
        host_name = item.get("host_name")
        if not isinstance(host_name, str):
            problems.append(
                f"{where}.host_name: {host_name!r} must be a string (quote it if it looks "
                "like a number)"
            )
            host_name = None
        else:
            try:
                validate_hostname(host_name)
            except InvalidHostName as exc:
                problems.append(f"{where}.host_name: {exc} (RFC 1123)")
                host_name = None
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 255):
            problems.append(f"{where}.name: {name!r} must be a tag value of 1-255 characters")
            name = None
        if ip is not None and host_name is not None:
            out.append(AddressSpec(ip=ip, host_name=host_name, name=name, where=where))
    return out


def _parse_ip(raw: Any, where: str, problems: list[str]) -> ipaddress.IPv4Address | None:
    try:
        address = ipaddress.ip_address(str(raw).strip()) if raw is not None else None
    except ValueError:
        address = None
    if address is None:
        problems.append(f"{where}.ip: {raw!r} is not an IPv4 address")
        return None
    if not isinstance(address, ipaddress.IPv4Address):
        problems.append(f"{where}.ip: {raw} is IPv6; pools hold IPv4 addresses")
        return None
    return address


def _check_duplicates(subnets: list[SubnetSpec], problems: list[str]) -> None:
    refs: dict[str, str] = {}
    names: dict[str, AddressSpec] = {}
    for subnet in subnets:
        if subnet.ref in refs:
            problems.append(
                f"{subnet.where}.subnet: {subnet.ref} is already listed at {refs[subnet.ref]}; "
                "merge the two address lists"
            )
        refs.setdefault(subnet.ref, subnet.where)
        ips: dict[ipaddress.IPv4Address, AddressSpec] = {}
        for address in subnet.addresses:
            if address.ip in ips:
                problems.append(
                    f"{address.where}.ip: {address.ip} is already listed at {ips[address.ip].where}"
                )
            ips.setdefault(address.ip, address)
            # DNS names compare case-insensitively: server-A1 and server-a1 are one name.
            key = address.host_name.lower()
            if key in names:
                first = names[key]
                spelled = "" if first.host_name == address.host_name else f" as {first.host_name}"
                problems.append(
                    f"{address.where}.host_name: {address.host_name} is already used at "
                    f"{first.where}{spelled}; host names must be unique in the pool (and "
                    "compare case-insensitively)"
                )
            names.setdefault(key, address)
