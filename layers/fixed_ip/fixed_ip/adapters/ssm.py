"""SSM adapter: agent presence and the stack's host-name document."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from fixed_ip.adapters import error_code
from fixed_ip.errors import AgentNotOnline, InvalidHostName
from fixed_ip.ports import RunCommand


class SsmRunCommand(RunCommand):
    def __init__(self, client: Any, *, document: str) -> None:
        self.client = client
        self.document = document

    def agent_online(self, instance_id: str) -> bool:
        try:
            resp = self.client.describe_instance_information(
                Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
            )
        except ClientError as exc:
            if error_code(exc) == "InvalidInstanceId":
                return False  # not registered with SSM yet
            raise
        return any(
            info.get("InstanceId") == instance_id and info.get("PingStatus") == "Online"
            for info in resp.get("InstanceInformationList", [])
        )

    def send_set_hostname(self, instance_id: str, host_name: str, timeout_seconds: int) -> str:
        try:
            resp = self.client.send_command(
                DocumentName=self.document,
                InstanceIds=[instance_id],
                # ExecutionTimeout bounds the script on the instance; TimeoutSeconds only
                # bounds the delivery of the command.
                Parameters={"HostName": [host_name], "ExecutionTimeout": [str(timeout_seconds)]},
                TimeoutSeconds=timeout_seconds,
                Comment=f"fixed-ip: set host name of {instance_id}"[:100],
            )
        except ClientError as exc:
            code = error_code(exc)
            if code == "InvalidInstanceId":
                raise AgentNotOnline(f"SSM does not accept {instance_id} yet") from exc
            if code == "InvalidParameters":
                raise InvalidHostName(
                    f"document {self.document} refused HostName {host_name!r}"
                ) from exc
            raise
        return str(resp["Command"]["CommandId"])

    def command_status(self, command_id: str, instance_id: str) -> str:
        try:
            resp = self.client.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        except ClientError as exc:
            # Right after SendCommand the invocation may not exist yet.
            if error_code(exc) == "InvocationDoesNotExist":
                return "Pending"
            raise
        return str(resp.get("Status", "Pending"))
