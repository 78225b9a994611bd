"""The instance step's contract with the stack's SSM document (instance/fixed-ip-configure.sh):
the parameters it is sent, and the one verification line it prints last,
`FIXED_IP_RESULT {json}`, which is all the controller believes. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from fixed_ip.errors import CommandFailed, HostnameFailed, OsAddressFailed

RESULT_PREFIX = "FIXED_IP_RESULT "
# The instance's own words go into a log line: bounded.
MESSAGE_MAX = 500

Mode = Literal["configure", "verify", "skip"]


@dataclass(frozen=True)
class OsConfig:
    """What the document is asked to do on the instance."""

    address: str
    mac: str
    subnet_cidr: str
    device_index: int
    host_name: str | None
    mode: Mode

    def parameters(self, execution_timeout: int) -> dict[str, list[str]]:
        """SendCommand's Parameters. Every value was validated before (the address, MAC
        and CIDR come from EC2, the host name from `validate_hostname`) and the
        document's allowedPattern checks each again."""
        return {
            "Address": [self.address],
            "MacAddress": [self.mac.lower()],
            "SubnetCidr": [self.subnet_cidr],
            "DeviceIndex": [str(self.device_index)],
            "HostName": [self.host_name or ""],
            "Mode": [self.mode],
            "ExecutionTimeout": [str(execution_timeout)],
        }


class OsReport(BaseModel):
    """The script's verification line."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ok: bool
    mode: str
    manager: str | None = None
    interface: str | None = None
    address: str | None = None
    address_present: bool = False
    rule_present: bool = False
    table_route_present: bool = False
    host_name: str | None = None
    host_name_ok: bool | None = None
    persisted: bool = False
    changed: bool = False
    message: str = ""

    @property
    def summary(self) -> str:
        """e.g. `ens6 10.0.0.4 rule ok table ok` (for log lines and the demo)."""
        mark = {True: "ok", False: "missing"}
        return (
            f"{self.interface or '?'} {self.address or '?'} "
            f"rule {mark[self.rule_present]} table {mark[self.table_route_present]}"
        )


def parse_report(output: str) -> OsReport | None:
    """The last `FIXED_IP_RESULT` line of the command's output, or None when there is
    none or it is malformed (then nothing was verified)."""
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                return OsReport.model_validate(json.loads(line[len(RESULT_PREFIX) :]))
            except (ValueError, ValidationError):
                return None
    return None


def _said(report: OsReport) -> str:
    text = report.message.strip() or "no message"
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 3] + "..."


def judge(config: OsConfig, status: str, report: OsReport | None, where: str) -> OsReport:
    """The verdict on a finished command: the report when it proves what was asked,
    else the failure to raise. `status` is the command's final SSM status. (Whether only
    the host name was at stake is the caller's to say: InstanceSetup marks every failure
    of Mode skip.)"""
    if report is None:
        # Failed: the script stopped before its verification (or never ran: a
        # precondition, a missing interpreter). Success: not the stack's script at all.
        failure = CommandFailed if status == "Failed" else OsAddressFailed
        raise failure(
            f"command ended {status} on {where} without a verification line "
            f"({RESULT_PREFIX.strip()}): the address is not verified"
        )
    if config.mode != "skip":
        proven = (
            report.address == config.address
            and report.address_present
            and report.rule_present
            and report.table_route_present
        )
        if not proven:
            raise OsAddressFailed(
                f"{config.address} is not configured on {where} "
                f"({report.summary}; manager {report.manager}): {_said(report)}"
            )
    if config.host_name is not None and report.host_name_ok is not True:
        raise HostnameFailed(f"host name {config.host_name} not set on {where}: {_said(report)}")
    if status != "Success" or not report.ok:
        # The script's exit status and its line disagree, or it failed for another
        # reason after verifying: believe the failure.
        raise CommandFailed(f"command ended {status} on {where} (ok={report.ok}): {_said(report)}")
    return report
