"""What doctor reports (`Check`), what it is asked (`Options`), and the constants the
checks share. The lifecycle constants are the library's own."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fixed_ip.models import LAUNCHING, TERMINATING  # noqa: F401 - re-exported for the checks

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
DEFAULT_STACK = "fixed-ip"  # samconfig.toml's stack_name
TERMINATE_HOOK_HEARTBEAT = 300  # template.yaml's TerminateHook
# Where the controller names its SSM document: the function's environment and the stack's
# output. The second names are those of stacks deployed before the document also configured
# the address (HostnameDocument), which doctor still checks.
DOCUMENT_ENV = ("FIXED_IP_DOCUMENT", "FIXED_IP_HOSTNAME_DOCUMENT")
DOCUMENT_OUTPUT = ("ConfigureDocumentName", "HostnameDocumentName")
WAITING_STATES = {"Pending", "Pending:Wait", "Pending:Proceed"}
LEAVING_STATES = {"Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated"}


@dataclass
class Check:
    id: str
    status: str
    message: str
    fix: str | None = None
    details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    group: str
    stack: str | None = DEFAULT_STACK
    function: str | None = None
    terminate_function: str | None = None
    sweeper_function: str | None = None
    document: str | None = None
    hook_prefix: str | None = None
    pool: str | None = None
    # None: the group's InstanceMaintenancePolicy, else the stack's MaxHealthyPercent.
    max_healthy_percent: int | None = None


def no_group(check_id: str, d: Any) -> Check:
    """The check needs the group, which does not exist (the group check says so)."""
    return Check(check_id, SKIP, f"group {d.options.group} not found")
