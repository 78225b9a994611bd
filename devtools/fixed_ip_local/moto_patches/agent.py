"""The simulated SSM agent: runs each command on its instance when the command's outcome is
due, in the order the commands come due, against the instance's simulated OS
(:mod:`.instance_os`), and keeps what it printed for GetCommandInvocation.

A command runs once per instance, at the first look after it is due (GetCommandInvocation,
ListCommands, ListCommandInvocations, DescribeInstanceInformation or a helper below), with
the world as it is then. An outcome forced with ``set_command_outcome`` other than
``Success`` (the agent failed, timed out or was cancelled) runs nothing and prints nothing.
"""

from __future__ import annotations

from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ssm.models import Command, SimpleSystemManagerBackend, ssm_backends

from fixed_ip_local.moto_patches.common import _guard, _now, _region
from fixed_ip_local.moto_patches.instance_os import (
    DISTRIBUTIONS,
    InstanceOs,
    distribution,
    os_of,
    os_queue,
    os_view,
    run_document,
)

#: (status, standard output, standard error) of one invocation that has run.
Result = tuple[str, str, str]


def results(command: Command) -> dict[str, Result]:
    return vars(command).setdefault("_fixed_ip_results", {})


def run_due(backend: SimpleSystemManagerBackend, now: float) -> None:
    """Run every invocation of the region whose outcome is due and has not run yet."""
    due = []
    for seq, command in enumerate(backend._commands):
        outcomes = getattr(command, "_fixed_ip_outcomes", None) or {}
        done = results(command)
        for instance_id, (status, ready_at) in outcomes.items():
            if ready_at <= now and instance_id not in done:
                due.append((ready_at, seq, command, instance_id, status))
    if not due:
        return
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    for _, _, command, instance_id, status in sorted(due, key=lambda d: d[:2]):
        instance = ec2.get_instance_by_id(instance_id)
        if status != "Success":
            results(command)[instance_id] = (status, "", f"simulated {status} (fixed_ip_local)")
        elif instance is None:
            results(command)[instance_id] = ("Success", "", "")
        else:
            ok, stdout, stderr = run_document(instance, command.parameters or {})
            results(command)[instance_id] = ("Success" if ok else "Failed", stdout, stderr)


# ---------------------------------------------------------------------------------------
# Public helpers
# ---------------------------------------------------------------------------------------


def _instance_os(instance_id: str, region: str | None, account_id: str) -> InstanceOs | None:
    run_due(ssm_backends[account_id][_region(region)], _now())
    instance = ec2_backends[account_id][_region(region)].get_instance_by_id(instance_id)
    return None if instance is None else os_of(instance)


def os_hostname(
    instance_id: str, region: str | None = None, account_id: str = DEFAULT_ACCOUNT_ID
) -> str | None:
    """The host name the OS of ``instance_id`` has, as set by the commands that have run
    there (the old host-name document, or the configure document with a ``HostName``);
    ``None`` if none has set one."""
    with _guard():
        state = _instance_os(instance_id, region, account_id)
        return None if state is None else state.host_name


def os_address(
    instance_id: str, region: str | None = None, account_id: str = DEFAULT_ACCOUNT_ID
) -> str | None:
    """The fixed address the OS of ``instance_id`` has configured and verified (address,
    rule and table route, by the last configure document that ran there); ``None`` if
    none."""
    with _guard():
        state = _instance_os(instance_id, region, account_id)
        report = None if state is None else state.report
        if not report or report.get("mode") == "skip":
            return None
        keys = ("address_present", "rule_present", "table_route_present")
        return report["address"] if all(report.get(k) for k in keys) else None


def instance_os(
    instance_id: str, region: str | None = None, account_id: str = DEFAULT_ACCOUNT_ID
) -> dict[str, Any] | None:
    """What the OS of ``instance_id`` looks like: distribution, manager, host_name, the last
    FIXED_IP_RESULT of the configure document (``report``) and a one-line ``summary``
    (``ens6 10.0.0.4 rule ok``); ``None`` for an unknown instance."""
    with _guard():
        state = _instance_os(instance_id, region, account_id)
        if state is None:
            return None
        instance = ec2_backends[account_id][_region(region)].get_instance_by_id(instance_id)
        return os_view(instance)


def set_instance_os(
    instance_id: str,
    distribution_key: str,
    region: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Make ``instance_id`` (an existing EC2 instance) run ``distribution_key``, one of
    :data:`~fixed_ip_local.moto_patches.instance_os.DISTRIBUTIONS` (``unknown``: nothing the
    script knows manages its network, so configuring the address fails). Its OS starts
    afresh (no host name, no configuration)."""
    dist = distribution(distribution_key)
    with _guard():
        instance = ec2_backends[account_id][_region(region)].get_instance(instance_id)
        instance._fixed_ip_os = InstanceOs(dist)


def queue_instance_os(
    distribution_key: str,
    count: int = 1,
    *,
    region: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """The next ``count`` instances launched in the region run ``distribution_key`` (the
    simulation and the demo do not know an instance's id before Auto Scaling launches it);
    later ones run the default, Amazon Linux 2023."""
    distribution(distribution_key)
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    with _guard():
        backend = ec2_backends[account_id][_region(region)]
        os_queue(backend).extend([distribution_key] * count)


__all__ = [
    "DISTRIBUTIONS",
    "instance_os",
    "os_address",
    "os_hostname",
    "queue_instance_os",
    "run_due",
    "set_instance_os",
]
