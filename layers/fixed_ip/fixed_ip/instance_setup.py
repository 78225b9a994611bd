"""The instance step of a launch: through SSM Run Command, the stack's document
configures the fixed address in the OS (or only verifies it), sets the host name when
the ENI has one, and verifies both; the step waits (bounded, with heartbeats) for the
agent and for the command, and believes only the script's verification line."""

from __future__ import annotations

from fixed_ip.errors import (
    AgentNotOnline,
    CommandFailed,
    CommandTimedOut,
    InstanceStepFailure,
)
from fixed_ip.launch_run import LaunchRun
from fixed_ip.models import PoolEni
from fixed_ip.os_config import OsConfig, OsReport, judge, parse_report
from fixed_ip.settings import Settings

# Terminal GetCommandInvocation statuses (Pending, InProgress, Delayed, Cancelling go on).
COMMAND_DONE = {"Success", "Failed", "TimedOut", "Cancelled"}


class InstanceSetup:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def apply(self, run: LaunchRun, eni: PoolEni, host_name: str | None) -> None:
        """Configure and verify `eni`'s address (per OsConfiguration) and the host name.
        Raises an InstanceStepFailure (ABANDON, or the host-name policy when only the
        host name was at stake), OutOfTime (retried)."""
        mode = self.settings.os_configuration
        if mode == "skip" and host_name is None:
            # Nothing to do on the instance: the operator gave up the OS check.
            run.observer.decision(
                "os_setup_skipped",
                az=eni.az,
                eni_id=eni.eni_id,
                ip=eni.ip,
                reason="OsConfiguration is skip and the ENI has no host name",
            )
            return
        config = OsConfig(
            address=eni.ip,
            mac=eni.mac or "",
            subnet_cidr=run.deps.compute.subnet_cidr(eni.subnet_id),
            device_index=run.req.device_index,
            host_name=host_name,
            mode=mode,
        )
        try:
            command_id = self._send(run, config)
            report = self._await(run, command_id, config)
        except InstanceStepFailure as exc:
            if mode == "skip":
                exc.only_host_name = True  # the address was never at stake
            raise
        run.observer.decision(
            "os_configured" if mode != "skip" else "host_name_set",
            az=eni.az,
            eni_id=eni.eni_id,
            ip=eni.ip,
            host_name=host_name,
            mode=mode,
            interface=report.interface,
            manager=report.manager,
            os=report.summary if mode != "skip" else None,
            changed=report.changed,
            command_id=command_id,
        )

    def _send(self, run: LaunchRun, config: OsConfig) -> str:
        """Send the document, retrying while SSM does not know the agent yet (it
        registers 30 s to minutes after boot), within SsmWaitSeconds."""
        req, settings = run.req, self.settings
        clock, commands = run.deps.clock, run.deps.commands
        start = clock.monotonic()
        budget_end = start + settings.ssm_wait_seconds
        while True:
            try:
                command_id = commands.send_configure(
                    req.instance_id, config, settings.command_timeout_seconds
                )
                break
            except AgentNotOnline:
                run.wait(
                    settings.agent_poll_seconds,
                    budget_end,
                    AgentNotOnline(
                        f"SSM agent of {req.instance_id} not registered within "
                        f"{settings.ssm_wait_seconds}s (SendCommand: InvalidInstanceId)"
                    ),
                )
        run.out.ssm_wait_seconds = round(clock.monotonic() - start, 3)
        run.observer.metric("SsmWaitSeconds", run.out.ssm_wait_seconds, "Seconds")
        return command_id

    def _await(self, run: LaunchRun, command_id: str, config: OsConfig) -> OsReport:
        req, settings = run.req, self.settings
        clock, commands = run.deps.clock, run.deps.commands
        command_end = clock.monotonic() + settings.command_timeout_seconds
        where = f"{req.instance_id} (command {command_id})"
        while True:
            result = commands.command_result(command_id, req.instance_id)
            if result.status == "TimedOut":
                raise CommandTimedOut(f"command {command_id} timed out on {req.instance_id}")
            if result.status in {"Success", "Failed"}:
                return judge(config, result.status, parse_report(result.output), where)
            if result.status in COMMAND_DONE:
                raise CommandFailed(
                    f"command {command_id} ended {result.status} on {req.instance_id}"
                )
            run.wait(
                settings.command_poll_seconds,
                command_end,
                CommandTimedOut(
                    f"command {command_id} still {result.status} after "
                    f"{settings.command_timeout_seconds}s"
                ),
            )
