"""RFC 1123 host-name validation, applied before a name reaches any instance."""

from __future__ import annotations

import re

from fixed_ip.errors import InvalidHostName

# One label: letters, digits and hyphens, 1..63 characters, no hyphen at either end
# (RFC 1123 section 2.1 relaxes RFC 952 to allow a leading digit).
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
# RFC 1123 allows 253 characters in a DNS name, but Linux keeps at most 64 (HOST_NAME_MAX)
# as the host name, and hostnamectl refuses longer ones.
MAX_LENGTH = 64


def validate_hostname(value: object) -> str:
    """Return `value` if it is a valid RFC 1123 host name, else raise InvalidHostName
    naming what is wrong. Shell metacharacters, spaces and control characters can never
    pass, so the name is safe to hand to the SSM document."""
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
    for label in value.split("."):
        if not _LABEL.match(label):
            raise InvalidHostName(
                f"host name {shown!r} has an invalid label {label[:63]!r}: labels are 1-63 "
                "letters, digits or hyphens and do not start or end with a hyphen",
                host_name=shown,
            )
    return value
