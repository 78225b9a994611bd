"""Host-name validation (RFC 1123 section 2.1), applied before a name reaches any
instance.

RFC 1123 section 2.1 lets a label start with a digit, but adds that a valid host name
can never have the dotted-decimal form #.#.#.#, and that software must check for the
address form first, since "a highly-numeric name" would otherwise be taken for an
address. Resolvers and `inet_aton` go further than #.#.#.#: `127.1`, `2130706433`,
`0x7f000001` and `0` are all addresses to them. A host name that is an address in
disguise makes services that resolve their own name talk to loopback, the metadata
service or another host, so this module refuses:
- whatever `inet_aton` accepts (1 to 4 dot-separated parts, each decimal, octal or hex),
- any name whose last label is all digits (the root of the RFC's rule: top-level
  labels are alphabetic, so such a name is read as an address somewhere),
- `localhost` (any case), which resolves to loopback.
The SSM document's `allowedPattern` refuses the same names, as far as a pattern can."""

from __future__ import annotations

import re

from fixed_ip.errors import InvalidHostName

# One label: letters, digits and hyphens, 1..63 characters, no hyphen at either end
# (RFC 1123 section 2.1 relaxes RFC 952 to allow a leading digit).
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
# One part of an address as inet_aton reads it: hex (0x, even with no digits, as glibc
# allows), octal (leading 0) or decimal. A superset of what inet_aton accepts.
_ADDRESS_PART = re.compile(r"(0[xX][0-9A-Fa-f]*|[0-9]+)\Z")
# RFC 1123 allows 253 characters in a DNS name, but Linux keeps at most 64 (HOST_NAME_MAX)
# as the host name, and hostnamectl refuses longer ones.
MAX_LENGTH = 64


def looks_like_address(value: str) -> bool:
    """True when `inet_aton` (and so many resolvers) would read `value` as an IPv4
    address: 1 to 4 dot-separated numbers, each decimal, octal or hex."""
    parts = value.split(".")
    return 1 <= len(parts) <= 4 and all(_ADDRESS_PART.match(p) for p in parts)


def validate_hostname(value: object) -> str:
    """Return `value` if it is a valid RFC 1123 host name that is not an address in
    disguise, else raise InvalidHostName naming what is wrong. Shell metacharacters,
    spaces and control characters can never pass, so the name is safe to hand to the
    SSM document."""
    if not isinstance(value, str):
        raise InvalidHostName("host name is missing", host_name=None)
    shown = value if len(value) <= 80 else value[:77] + "..."
    if not value:
        raise InvalidHostName("host name is empty", host_name=shown)
    if len(value) > MAX_LENGTH:
        raise InvalidHostName(
            f"host name is {len(value)} characters long, more than {MAX_LENGTH} "
            "(the Linux host name limit)",
            host_name=shown,
        )
    labels = value.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise InvalidHostName(
                f"host name {shown!r} has an invalid label {label[:63]!r}: labels are 1-63 "
                "letters, digits or hyphens and do not start or end with a hyphen",
                host_name=shown,
            )
    if looks_like_address(value):
        raise InvalidHostName(
            f"host name {shown!r} is an IPv4 address in disguise (inet_aton reads it as "
            "one); RFC 1123 section 2.1 forbids a name of that form",
            host_name=shown,
        )
    if labels[-1].isdigit():
        raise InvalidHostName(
            f"host name {shown!r} ends in the all-numeric label {labels[-1]!r}, which "
            "resolvers read as part of an address (RFC 1123 section 2.1)",
            host_name=shown,
        )
    if value.lower() == "localhost":
        raise InvalidHostName(
            f"host name {shown!r} names the loopback host",
            host_name=shown,
        )
    return value
