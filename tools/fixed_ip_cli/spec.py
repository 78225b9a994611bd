"""The pool spec: a YAML file naming a pool and, per subnet, its fixed addresses and host
names, validated by a pydantic model. This module checks everything that can be checked
without AWS; `pool.py` checks the rest (subnets exist, addresses inside their CIDR,
addresses not taken).

    pool: web                         # ENI tag fixed-ip:pool = web
    host_name_tag: HostName           # optional (the stack's HostNameTagKey)
    vpc: fixed-ip-example             # optional: VPC id or Name tag, narrows subnet names
    security_groups: [sg-0123...]     # optional: for new ENIs (default: the VPC's default)
    subnets:
      - subnet: fixed-ip-example-a    # a subnet id (subnet-...) or the value of its Name tag
        addresses:
          - {ip: 10.0.0.4, host_name: server-a1, name: AZ-a_ENI1}   # name: optional Name tag

Every problem is reported at once, one line each, prefixed with where it is in the file
(`subnets[0].addresses[2].ip: ...`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fixed_ip.errors import InvalidHostName
from fixed_ip.hostname import validate_hostname
from fixed_ip.models import POOL_NAME_MAX, POOL_NAME_PATTERN
from fixed_ip_cli.enis import DEFAULT_HOST_NAME_TAG, POOL_TAG
from fixed_ip_cli.errors import SpecError

# EC2 tag keys: 1-128 characters, and the aws: prefix is reserved.
TAG_KEY = r"^(?!aws:)[\w .:/=+\-@]{1,128}$"
SECURITY_GROUP_ID = r"^sg-[0-9a-f]{8,17}$"


def _rfc_1123(value: str) -> str:
    try:
        # The controller's own check: a host name that passes here passes there.
        return validate_hostname(value)
    except InvalidHostName as exc:
        raise PydanticCustomError("spec", f"{exc} (RFC 1123)") from exc


class _Entry(BaseModel):
    # extra="forbid": a typo (`hostname:`) is refused instead of silently ignored;
    # python-re: TAG_KEY needs a look-ahead.
    model_config = ConfigDict(frozen=True, extra="forbid", regex_engine="python-re")

    _where: str = PrivateAttr(default="")

    @property
    def where(self) -> str:
        """Position in the file, for messages: subnets[0].addresses[2]."""
        return self._where


def _written(value: Any) -> str:
    """An address as the file writes it: YAML would also hand over a number (167772164),
    which pydantic would read as 10.0.0.4."""
    if not isinstance(value, str):
        raise ValueError("not text")  # reported with the field's own message
    return value.strip()


class AddressSpec(_Entry):
    ip: Annotated[ipaddress.IPv4Address, BeforeValidator(_written)]
    host_name: Annotated[StrictStr, AfterValidator(_rfc_1123)]
    # The Name tag; None: the host name for new ENIs, left alone on others.
    name: str | None = Field(default=None, min_length=1, max_length=255)


class SubnetSpec(_Entry):
    subnet: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    addresses: tuple[AddressSpec, ...] = Field(min_length=1)

    @property
    def ref(self) -> str:
        """A subnet id or the value of its Name tag."""
        return self.subnet

    @property
    def is_id(self) -> bool:
        return self.subnet.startswith("subnet-")


class PoolSpec(_Entry):
    # The controller's pattern: a pool name it would refuse in a hook is refused here.
    pool: str = Field(pattern=POOL_NAME_PATTERN, max_length=POOL_NAME_MAX)
    host_name_tag: str = Field(default=DEFAULT_HOST_NAME_TAG, pattern=TAG_KEY)
    vpc: str | None = Field(default=None, min_length=1)
    security_groups: tuple[Annotated[str, Field(pattern=SECURITY_GROUP_ID)], ...] = ()
    subnets: tuple[SubnetSpec, ...] = Field(min_length=1)

    _source: str = PrivateAttr(default="<spec>")

    @property
    def source(self) -> str:
        """The file the spec came from, for messages."""
        return self._source

    @property
    def addresses(self) -> list[tuple[SubnetSpec, AddressSpec]]:
        return [(s, a) for s in self.subnets for a in s.addresses]

    @model_validator(mode="after")
    def _positions(self) -> PoolSpec:
        for i, subnet in enumerate(self.subnets):
            subnet._where = f"subnets[{i}]"
            for j, address in enumerate(subnet.addresses):
                address._where = f"subnets[{i}].addresses[{j}]"
        return self


def _ip_message(value: Any) -> str:
    try:
        if isinstance(ipaddress.ip_address(str(value).strip()), ipaddress.IPv6Address):
            return f"{value} is IPv6; pools hold IPv4 addresses"
    except ValueError:
        pass
    return f"{value!r} is not an IPv4 address"


# What each field must be, in the operator's words: the message for any problem with it
# (pydantic's own wording names types, not the fix). `value` is the field as written.
_MESSAGES: dict[str, Callable[[Any], str]] = {
    "pool": lambda v: (
        f"{v!r} is not a pool name (1-{POOL_NAME_MAX} letters, digits, spaces and "
        f"_ . : / = + - @; it becomes the value of the ENI tag {POOL_TAG})"
    ),
    "host_name_tag": lambda v: (
        f"{v!r} is not an EC2 tag key (1-128 characters, not starting with aws:)"
    ),
    "vpc": lambda v: f"{v!r} must be a VPC id (vpc-...) or the value of its Name tag",
    "security_groups": lambda v: f"{v!r} must be a list of ids like sg-0123abcd",
    "subnets": lambda v: "give a list of subnets, each with `subnet` and `addresses`",
    "subnet": lambda v: "give a subnet id (subnet-...) or its Name tag",
    "addresses": lambda v: "give a list of {ip, host_name} entries",
    "ip": _ip_message,
    "host_name": lambda v: f"{v!r} must be a string (quote it if it looks like a number)",
    "name": lambda v: f"{v!r} must be a tag value of 1-255 characters",
}
# An entry of a list that is not a mapping.
_ENTRY = {
    "subnets": "expected a mapping with `subnet` and `addresses`",
    "addresses": "expected a mapping like {ip: 10.0.0.4, host_name: a1}",
}
# The keys each level allows, as written in the file (for the unknown-key message).
_ALLOWED = {
    0: list(PoolSpec.model_fields),
    2: list(SubnetSpec.model_fields),
    4: list(AddressSpec.model_fields),
}


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _at(data: Any, loc: tuple[int | str, ...]) -> Any:
    """The value at `loc` in the file's data; None where there is none."""
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def problems_of(exc: ValidationError, data: Any) -> list[str]:
    """One line per problem: where it is in the file, then what is wrong with it."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = tuple(err["loc"])
        # Errors inside a list (security_groups[1]) are the list's: report the field.
        field_at = max((i for i, part in enumerate(loc) if isinstance(part, str)), default=0)
        field, where = str(loc[field_at]), loc[: field_at + 1]
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(_ALLOWED.get(len(loc) - 1, ()))
            lines.append(f"{_where(loc)}: unknown key (allowed: {allowed})")
        elif err["type"] == "spec":  # our own message (host names)
            lines.append(f"{_where(loc)}: {err['msg']}")
        elif err["type"] == "too_short" and _at(data, where):
            continue  # a list whose entries failed: they are reported themselves
        elif err["type"] == "model_type" and field_at == len(loc) - 2:
            lines.append(f"{_where(loc)}: {_ENTRY[field]}")
        else:
            line = f"{_where(where)}: {_MESSAGES[field](_at(data, where))}"
            if line not in lines:
                lines.append(line)
    return lines


def duplicate_problems(spec: PoolSpec) -> list[str]:
    """Subnets listed twice, addresses listed twice in a subnet, host names used twice."""
    problems: list[str] = []
    refs: dict[str, str] = {}
    names: dict[str, AddressSpec] = {}
    for subnet in spec.subnets:
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
    return problems


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
    if not isinstance(data, dict):
        raise SpecError(
            f"{source}: a pool spec is a YAML mapping with `pool` and `subnets`, "
            f"got {type(data).__name__}"
        )
    try:
        spec = PoolSpec.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc, data)
    else:
        problems = duplicate_problems(spec)
    if problems:
        raise SpecError(
            f"{source}: {len(problems)} problem{'s' if len(problems) > 1 else ''} in the pool "
            "spec (nothing was changed)",
            problems=problems,
        )
    spec._source = source
    return spec
