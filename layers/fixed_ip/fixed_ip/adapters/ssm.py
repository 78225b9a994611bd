"""SSM adapter: the stack's document on an instance, and its result."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from fixed_ip.adapters import error_code
from fixed_ip.errors import AgentNotOnline, DocumentRefused
from fixed_ip.os_config import OsConfig
from fixed_ip.ports import CommandResult, RunCommand


class SsmRunCommand(RunCommand):
    def __init__(self, client: Any, *, document: str) -> None:
        self.client = client
        self.document = document

    def send_configure(self, instance_id: str, config: OsConfig, timeout_seconds: int) -> str:
        # No DescribeInstanceInformation first: SendCommand itself answers
        # InvalidInstanceId while the agent is not registered (AWS documents it), which
        # saves a call per launch and a permission.
        try:
            resp = self.client.send_command(
                DocumentName=self.document,
                InstanceIds=[instance_id],
                # ExecutionTimeout bounds the script on the instance; TimeoutSeconds only
                # bounds the delivery of the command.
                Parameters=config.parameters(timeout_seconds),
                TimeoutSeconds=timeout_seconds,
                Comment=f"fixed-ip: configure {config.address} on {instance_id}"[:100],
            )
        except ClientError as exc:
            code = error_code(exc)
            if code == "InvalidInstanceId":
                raise AgentNotOnline(f"SSM does not accept {instance_id} yet") from exc
            if code == "InvalidParameters":
                raise DocumentRefused(
                    f"document {self.document} refused the parameters "
                    f"{sorted(config.parameters(timeout_seconds))} for {instance_id}: "
                    "is the stack's document the one this controller was deployed with?"
                ) from exc
            raise
        return str(resp["Command"]["CommandId"])

    def command_result(self, command_id: str, instance_id: str) -> CommandResult:
        try:
            resp = self.client.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        except ClientError as exc:
            # Right after SendCommand the invocation may not exist yet.
            if error_code(exc) == "InvocationDoesNotExist":
                return CommandResult("Pending")
            raise
        return CommandResult(
            status=str(resp.get("Status", "Pending")),
            output=str(resp.get("StandardOutputContent") or ""),
        )
