"""The instance step of a launch: through SSM Run Command, the stack's document sets the
host name on the instance; the step waits (bounded, with heartbeats) for the agent and
for the command's result."""

from __future__ import annotations

from fixed_ip.errors import (
    AgentNotOnline,
    BadHostNameTag,
    CommandFailed,
    CommandTimedOut,
    InvalidHostName,
)
from fixed_ip.launch_run import LaunchRun
from fixed_ip.settings import Settings

# Terminal GetCommandInvocation statuses (Pending, InProgress, Delayed, Cancelling go on).
COMMAND_DONE = {"Success", "Failed", "TimedOut", "Cancelled"}


class InstanceSetup:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def apply(self, run: LaunchRun, host_name: str) -> None:
        """Send the document once the agent is Online, then wait for its result.
        Raises a HostnameStepFailure (the policy decides), OutOfTime (retried)."""
        command_id = self._send(run, host_name)
        self._await(run, command_id, host_name)

    def _send(self, run: LaunchRun, host_name: str) -> str:
        req, out, settings = run.req, run.out, self.settings
        clock, commands = run.deps.clock, run.deps.commands
        start = clock.monotonic()
        budget_end = start + settings.ssm_wait_seconds
        command_id = None
        while command_id is None:
            if commands.agent_online(req.instance_id):
                try:
                    command_id = commands.send_set_hostname(
                        req.instance_id, host_name, settings.command_timeout_seconds
                    )
                    break
                except AgentNotOnline:
                    pass  # registered but not yet accepting commands: keep waiting
                except InvalidHostName as exc:
                    raise BadHostNameTag(f"the SSM document refused the host name: {exc}") from exc
            run.wait(
                settings.agent_poll_seconds,
                budget_end,
                AgentNotOnline(
                    f"SSM agent of {req.instance_id} not Online within {settings.ssm_wait_seconds}s"
                ),
            )
        out.ssm_wait_seconds = round(clock.monotonic() - start, 3)
        run.observer.metric("SsmWaitSeconds", out.ssm_wait_seconds, "Seconds")
        return command_id

    def _await(self, run: LaunchRun, command_id: str, host_name: str) -> None:
        req, out, settings = run.req, run.out, self.settings
        clock, commands = run.deps.clock, run.deps.commands
        command_end = clock.monotonic() + settings.command_timeout_seconds
        while True:
            status = commands.command_status(command_id, req.instance_id)
            if status == "Success":
                run.observer.decision(
                    "hostname_set",
                    az=out.az,
                    eni_id=out.eni_id,
                    ip=out.ip,
                    host_name=host_name,
                    command_id=command_id,
                )
                return
            if status == "TimedOut":
                raise CommandTimedOut(f"command {command_id} timed out on {req.instance_id}")
            if status in COMMAND_DONE:
                raise CommandFailed(f"command {command_id} ended {status} on {req.instance_id}")
            run.wait(
                settings.command_poll_seconds,
                command_end,
                CommandTimedOut(
                    f"command {command_id} still {status} after {settings.command_timeout_seconds}s"
                ),
            )
