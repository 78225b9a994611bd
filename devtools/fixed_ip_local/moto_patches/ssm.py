"""Systems Manager: managed instances (agent registration, DescribeInstanceInformation),
SendCommand validation and targets, command outcomes over time, ListCommandInvocations, and
the simulated OS the commands act on."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ssm.exceptions import InvalidFilterKey, SSMException
from moto.ssm.models import Command, SimpleSystemManagerBackend, ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from fixed_ip_local.moto_patches.agent import results, run_due
from fixed_ip_local.moto_patches.common import (
    AGENT_VERSION,
    _dt,
    _guard,
    _now,
    _page,
    _region,
)
from fixed_ip_local.moto_patches.instance_os import os_of

_COMMAND_STATUSES = {
    # status: (StatusDetails, ResponseCode)
    "Success": ("Success", 0),
    "Failed": ("Failed", 1),
    "TimedOut": ("ExecutionTimedOut", -1),
    "Cancelled": ("Cancelled", -1),
}


def _ssm_outcomes(backend: SimpleSystemManagerBackend) -> dict[str, tuple[str, float]]:
    return vars(backend).setdefault("_fixed_ip_outcomes", {})


def _managed_online(instance: Any, now: float) -> bool:
    online_at = getattr(instance, "_fixed_ip_ssm_online_at", None)
    return online_at is not None and online_at <= now


def _document_for(
    backend: SimpleSystemManagerBackend, name: str | None, version: str | None
) -> Any:
    documents = backend._documents.get(name or "")
    if documents is None:
        return None
    if version in (None, "", "$DEFAULT"):
        return documents.get_default_version()
    if version == "$LATEST":
        return documents.get_latest_version()
    return documents.find_by_version(str(version))


class _SSMError(SSMException):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def _validate_parameters(document: Any, parameters: dict[str, Any]) -> None:
    declared: dict[str, Any] = document.content_json.get("parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise _SSMError(
            "InvalidParameters",
            f"Parameters {unknown} are not defined in document {document.name}.",
        )
    for name, spec in declared.items():
        spec = spec or {}
        if name not in parameters:
            if "default" not in spec:
                raise _SSMError(
                    "InvalidParameters",
                    f"Required parameter {name} of document {document.name} is missing.",
                )
            continue
        values = parameters[name]
        values = values if isinstance(values, list) else [values]
        pattern = spec.get("allowedPattern")
        allowed = spec.get("allowedValues")
        for value in values:
            text = str(value)
            if pattern is not None and re.fullmatch(pattern, text) is None:
                raise _SSMError(
                    "InvalidParameters",
                    f"Parameter {name} value '{text}' does not match the allowed pattern "
                    f"{pattern}.",
                )
            if allowed is not None and text not in [str(a) for a in allowed]:
                raise _SSMError(
                    "InvalidParameters",
                    f"Parameter {name} value '{text}' is not one of the allowed values.",
                )
            if "maxChars" in spec and len(text) > int(spec["maxChars"]):
                raise _SSMError(
                    "InvalidParameters", f"Parameter {name} exceeds {spec['maxChars']} characters."
                )
            if "minChars" in spec and len(text) < int(spec["minChars"]):
                raise _SSMError(
                    "InvalidParameters",
                    f"Parameter {name} is shorter than {spec['minChars']} characters.",
                )


def _send_command_response(original: Callable[..., Any]) -> Callable[..., Any]:
    """SendCommand validation (Systems Manager API reference, SendCommand errors):

    - ``InvalidParameters``: "You must specify values for all required parameters in the
      Amazon Web Services Systems Manager document (SSM document). You can only supply values
      to parameters defined in the SSM document." Also each value against the parameter's
      ``allowedPattern`` (whole value), ``allowedValues``, ``minChars`` and ``maxChars``.
      Checked when the document exists in moto (AWS-owned documents are not modelled).
    - ``InvalidInstanceId``: the instance is not a managed instance with an online agent
      ("Instances [[i-...]] not in a valid state for account <account>").
    """

    def send_command(self: SimpleSystemManagerResponse) -> Any:
        with _guard():
            backend = self.ssm_backend
            document = _document_for(
                backend, self._get_param("DocumentName"), self._get_param("DocumentVersion")
            )
            if document is not None:
                _validate_parameters(document, self._get_param("Parameters", {}) or {})
            instance_ids = self._get_param("InstanceIds", []) or []
            if instance_ids:
                ec2 = ec2_backends[backend.account_id][backend.region_name]
                now = _now()
                invalid = []
                for instance_id in instance_ids:
                    instance = ec2.get_instance_by_id(instance_id)
                    if (
                        instance is None
                        or instance.state != "running"
                        or not _managed_online(instance, now)
                    ):
                        invalid.append(instance_id)
                if invalid:
                    raise _SSMError(
                        "InvalidInstanceId",
                        f"Instances [[{', '.join(invalid)}]] not in a valid state for account "
                        f"{backend.account_id}",
                    )
            return original(self)

    return send_command


def _send_command_backend(original: Callable[..., Any]) -> Callable[..., Any]:
    """SendCommand outcome: AWS answers ``Pending`` and runs the command on each instance
    later; the outcome of each invocation is the one set with :func:`set_command_outcome`
    (default ``Success``), reported ``InProgress`` until its delay has passed. The plugin
    name is the document's first step name, as AWS reports it."""

    def send_command(self: SimpleSystemManagerBackend, *args: Any, **kwargs: Any) -> Command:
        with _guard():
            command = original(self, *args, **kwargs)
            now = _now()
            outcomes = _ssm_outcomes(self)
            command._fixed_ip_sent_at = now
            command._fixed_ip_outcomes = {}
            for instance_id in command.instance_ids:
                status, delay = outcomes.get(instance_id, ("Success", 0.0))
                command._fixed_ip_outcomes[instance_id] = (status, now + delay)
            document = _document_for(self, command.document_name, None)
            steps = (document.content_json.get("mainSteps") or []) if document else []
            if steps and steps[0].get("name"):
                for invocation in command.invocations:
                    invocation["PluginName"] = steps[0]["name"]
            command.status = "Pending"
            command.status_details = "Pending"
            return command

    return send_command


def _command_targets(original: Callable[..., Any]) -> Callable[..., Any]:
    """SendCommand runs on the InstanceIds given plus the instances matching Targets; with no
    Targets that is no other instance (moto 5.2.5 matches every instance of the region, so
    a command to one instance ran on all). A target with key ``InstanceIds`` names
    instances; other keys (``tag:<key>``, ``tag-key``) use moto's EC2 filters, keeping
    running instances only (commands reach managed nodes, not stopped ones)."""

    def _get_instance_ids_from_targets(self: Command) -> list[str]:
        if not self.targets:
            return []
        named = [v for t in self.targets if t.get("Key") == "InstanceIds" for v in t["Values"]]
        others = [t for t in self.targets if t.get("Key") != "InstanceIds"]
        if not others:
            return named
        ec2 = ec2_backends[self.account_id][self.backend_region]
        saved, self.targets = self.targets, others
        try:
            matched = original(self)
        finally:
            self.targets = saved
        instances = [ec2.get_instance_by_id(i) for i in matched]
        return named + [i.id for i in instances if i is not None and i.state == "running"]

    return _get_instance_ids_from_targets


def _refresh_command(command: Command, now: float) -> None:
    outcomes: dict[str, tuple[str, float]] | None = getattr(command, "_fixed_ip_outcomes", None)
    if outcomes is None:
        return
    run_due(ssm_backends[command.account_id][command.backend_region], now)
    ran = results(command)
    sent_at: float = command._fixed_ip_sent_at
    statuses = []
    for invocation in command.invocations:
        status, ready_at = outcomes.get(invocation["InstanceId"], ("Success", sent_at))
        if now < ready_at:
            invocation.update(
                Status="InProgress",
                StatusDetails="InProgress",
                ResponseCode=-1,
                ExecutionEndDateTime="",
                ExecutionElapsedTime=f"PT{now - sent_at:.3f}S",
            )
            statuses.append("InProgress")
            continue
        status, stdout, stderr = ran.get(invocation["InstanceId"], (status, "", ""))
        details, code = _COMMAND_STATUSES[status]
        invocation.update(
            Status=status,
            StatusDetails=details,
            ResponseCode=code,
            ExecutionEndDateTime=_dt(ready_at).isoformat(),
            ExecutionElapsedTime=f"PT{ready_at - sent_at:.3f}S",
            StandardOutputContent=stdout,
            StandardErrorContent=stderr,
        )
        statuses.append(status)
    if "InProgress" in statuses:
        overall = "InProgress"
    elif all(s == "Success" for s in statuses):
        overall = "Success"
    else:
        overall = next(s for s in ("Failed", "TimedOut", "Cancelled") if s in statuses)
    command.status = overall
    command.status_details = overall
    command.completed_count = sum(1 for s in statuses if s != "InProgress")
    command.error_count = sum(1 for s in statuses if s in ("Failed", "TimedOut"))


def _get_command_invocation(original: Callable[..., Any]) -> Callable[..., Any]:
    """GetCommandInvocation reports the invocation's current Status, StatusDetails and
    ResponseCode (0 on success, 1 on failure, -1 while in progress)."""

    def get_command_invocation(
        self: SimpleSystemManagerBackend, command_id: str, instance_id: str, plugin_name: Any
    ) -> dict[str, Any]:
        with _guard():
            _refresh_command(self.get_command_by_id(command_id), _now())
            return original(self, command_id, instance_id, plugin_name)

    return get_command_invocation


def _list_commands(original: Callable[..., Any]) -> Callable[..., Any]:
    """ListCommands reports each command's current aggregate Status."""

    def list_commands(self: SimpleSystemManagerBackend, *args: Any, **kwargs: Any) -> Any:
        with _guard():
            commands = original(self, *args, **kwargs)
            now = _now()
            for command in commands:
                _refresh_command(command, now)
            return commands

    return list_commands


def _list_command_invocations(_original: Any) -> Callable[..., Any]:
    """ListCommandInvocations (new action): one entry per instance of each command with its
    current Status and StatusDetails; with ``Details`` true, ``CommandPlugins`` with the
    plugin's Status, ResponseCode and Output. Filters CommandId and InstanceId;
    MaxResults/NextToken pagination."""

    def list_command_invocations(self: SimpleSystemManagerResponse) -> ActionResult:
        with _guard():
            backend = self.ssm_backend
            command_id = self._get_param("CommandId")
            instance_id = self._get_param("InstanceId")
            details = bool(self._get_param("Details", False))
            commands = [backend.get_command_by_id(command_id)] if command_id else backend._commands
            now = _now()
            entries = []
            for command in commands:
                _refresh_command(command, now)
                for invocation in command.invocations:
                    if instance_id and invocation["InstanceId"] != instance_id:
                        continue
                    entry: dict[str, Any] = {
                        "CommandId": command.command_id,
                        "InstanceId": invocation["InstanceId"],
                        "InstanceName": "",
                        "Comment": command.comment,
                        "DocumentName": command.document_name,
                        "DocumentVersion": "$DEFAULT",
                        "RequestedDateTime": command.requested_date_time,
                        "Status": invocation["Status"],
                        "StatusDetails": invocation["StatusDetails"],
                        "StandardOutputUrl": "",
                        "StandardErrorUrl": "",
                        "ServiceRole": command.service_role_arn,
                    }
                    if details:
                        done = invocation["Status"] not in ("InProgress", "Pending")
                        plugin: dict[str, Any] = {
                            "Name": invocation["PluginName"],
                            "Status": invocation["Status"],
                            "StatusDetails": invocation["StatusDetails"],
                            "ResponseCode": invocation["ResponseCode"],
                            "ResponseStartDateTime": command.requested_date_time,
                            "Output": invocation.get("StandardOutputContent", ""),
                            "StandardOutputUrl": "",
                            "StandardErrorUrl": "",
                        }
                        if done:
                            plugin["ResponseFinishDateTime"] = datetime.fromisoformat(
                                invocation["ExecutionEndDateTime"]
                            )
                        entry["CommandPlugins"] = [plugin]
                    entries.append(entry)
            page, next_token = _page(
                entries, self._get_param("NextToken"), self._get_param("MaxResults")
            )
            return ActionResult({"CommandInvocations": page, "NextToken": next_token})

    return list_command_invocations


def _instance_info_filters(response: SimpleSystemManagerResponse) -> list[tuple[str, list[str]]]:
    filters: list[tuple[str, list[str]]] = []
    for f in response._get_param("InstanceInformationFilterList", []) or []:
        filters.append((f.get("key"), list(f.get("valueSet") or [])))
    for f in response._get_param("Filters", []) or []:
        filters.append((f.get("Key"), list(f.get("Values") or [])))
    return filters


def _describe_instance_information(_original: Any) -> Callable[..., Any]:
    """DescribeInstanceInformation (new action): the managed instances whose SSM agent has
    registered (see :func:`register_managed_instance` / :func:`set_auto_register`), with
    PingStatus ``Online`` while the EC2 instance runs (``ConnectionLost`` when stopped;
    terminated instances are not listed), PlatformType ``Linux``, ResourceType
    ``EC2Instance``, AgentVersion, IPAddress and ComputerName (the OS host name). Filters:
    ``InstanceInformationFilterList`` (key/valueSet) and ``Filters`` (Key/Values) with keys
    InstanceIds, PingStatus, PlatformTypes, ResourceType, AgentVersion, and ``tag:<key>`` /
    ``tag-key`` in Filters; MaxResults/NextToken pagination."""

    def describe_instance_information(self: SimpleSystemManagerResponse) -> ActionResult:
        with _guard():
            backend = self.ssm_backend
            ec2 = ec2_backends[backend.account_id][backend.region_name]
            filters = _instance_info_filters(self)
            now = _now()
            run_due(backend, now)  # ComputerName is the host name the commands set
            infos = []
            for instance in ec2.all_instances():
                if not _managed_online(instance, now):
                    continue
                if instance.state in ("terminated", "shutting-down"):
                    continue
                state = os_of(instance)
                platform_name, platform_version = state.distribution.platform
                info = {
                    "InstanceId": instance.id,
                    "PingStatus": "Online" if instance.state == "running" else "ConnectionLost",
                    "LastPingDateTime": _dt(now),
                    "AgentVersion": AGENT_VERSION,
                    "IsLatestVersion": True,
                    "PlatformType": "Linux",
                    "PlatformName": platform_name,
                    "PlatformVersion": platform_version,
                    "ResourceType": "EC2Instance",
                    "IPAddress": instance.private_ip,
                    "ComputerName": state.host_name or instance.private_dns_name,
                    "SourceId": instance.id,
                    "SourceType": "AWS::EC2::Instance",
                }
                if all(_info_matches(info, instance, key, values) for key, values in filters):
                    infos.append(info)
            page, next_token = _page(
                infos, self._get_param("NextToken"), self._get_param("MaxResults")
            )
            return ActionResult({"InstanceInformationList": page, "NextToken": next_token})

    return describe_instance_information


def _info_matches(info: dict[str, Any], instance: Any, key: str, values: list[str]) -> bool:
    simple = {
        "InstanceIds": "InstanceId",
        "PingStatus": "PingStatus",
        "PlatformTypes": "PlatformType",
        "ResourceType": "ResourceType",
        "AgentVersion": "AgentVersion",
    }
    if key in simple:
        return str(info[simple[key]]) in values
    tags = {t["key"]: t["value"] for t in instance.get_tags()}
    if key == "tag-key":
        return any(v in tags for v in values)
    if key and key.startswith("tag:"):
        return tags.get(key[4:]) in values
    raise InvalidFilterKey(f"The filter key {key} is not valid.")


# ---------------------------------------------------------------------------------------
# Public helpers
# ---------------------------------------------------------------------------------------


def _ssm_backend(region: str | None, account_id: str) -> SimpleSystemManagerBackend:
    return ssm_backends[account_id][_region(region)]


def register_managed_instance(
    instance_id: str,
    online_after_seconds: float = 0.0,
    region: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Register ``instance_id`` (an existing EC2 instance) as an SSM managed instance whose
    agent is online ``online_after_seconds`` from now."""
    with _guard():
        instance = ec2_backends[account_id][_region(region)].get_instance(instance_id)
        instance._fixed_ip_ssm_online_at = _now() + online_after_seconds


def set_command_outcome(
    instance_id: str,
    status: str = "Success",
    region: str | None = None,
    *,
    delay_seconds: float = 0.0,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Outcome of the commands sent to ``instance_id`` from now on: Success, Failed, TimedOut
    or Cancelled, reported ``InProgress`` for ``delay_seconds`` after SendCommand."""
    if status not in _COMMAND_STATUSES:
        raise ValueError(f"status must be one of {sorted(_COMMAND_STATUSES)}, not {status!r}")
    with _guard():
        _ssm_outcomes(_ssm_backend(region, account_id))[instance_id] = (status, delay_seconds)
