"""Checks of the controller itself: its stack, functions and SSM document."""

from __future__ import annotations

from typing import Any

from fixed_ip_cli.awsutil import aws_errors
from fixed_ip_cli.doctor.deployment import Deployment
from fixed_ip_cli.doctor.model import DOCUMENT_ENV, DOCUMENT_OUTPUT, FAIL, PASS, SKIP, WARN, Check

# Stack statuses in which the stack's resources are in place.
_USABLE_STACK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
_ROLLED_BACK_UPDATE = {"UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
_BUSY_SUFFIX = "_IN_PROGRESS"


def check_stack(d: Deployment) -> Check:
    name = d.options.stack
    if not name:
        return Check("stack", SKIP, "no --stack given; using --function / --document")
    stack = d.stack
    if stack is None:
        if d.options.function:
            return Check("stack", SKIP, f"stack {name} not found; using --function")
        return Check(
            "stack",
            FAIL,
            f"controller stack {name} not found in {d.region}",
            fix="deploy the controller (sam build && sam deploy --guided), or name it: "
            "--stack NAME, or --function NAME --document NAME",
        )
    status = stack["status"]
    outputs = stack["outputs"]
    named = ", ".join(
        f"{label} {outputs[key]}"
        for key, label in (
            ("LaunchFunctionName", "function"),
            *((k, "document") for k in DOCUMENT_OUTPUT),
            ("LaunchRuleName", "rule"),
        )
        if key in outputs
    )
    message = f"stack {name} is {status}" + (f": {named}" if named else "")
    events = f"aws cloudformation describe-stack-events --stack-name {name}"
    if status in _USABLE_STACK:
        return Check("stack", PASS, message)
    if status in _ROLLED_BACK_UPDATE or status.endswith(_BUSY_SUFFIX):
        return Check(
            "stack",
            WARN,
            message + " (the last update did not complete, or one is running)",
            fix=f"see `{events}`, then run sam deploy again",
        )
    return Check(
        "stack", FAIL, message, fix=f"see `{events}`; delete the stack and deploy it again"
    )


def _function_state(role: str, name: str, config: dict[str, Any]) -> Check | None:
    """A failed or not-yet-active function; None when it is fine."""
    state = config.get("State", "Active")
    update = config.get("LastUpdateStatus", "Successful")
    if state == "Failed" or update == "Failed":
        reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or ""
        return Check(
            "function",
            FAIL,
            f"{role} function {name} is {state} (last update {update}): {reason}".rstrip(": "),
            fix="redeploy the controller (sam build && sam deploy)",
        )
    if state != "Active":
        return Check(
            "function",
            WARN,
            f"{role} function {name} is {state}",
            fix="wait until it is Active (a function idle for weeks becomes Inactive and is "
            "reactivated by its next invocation)",
        )
    return None


def check_function(d: Deployment) -> Check:
    name = d.function_name
    if not name:
        return Check(
            "function",
            FAIL,
            "controller function unknown (no stack output LaunchFunctionName)",
            fix="give --stack NAME (the controller's stack) or --function NAME",
        )
    config = d.function
    if config is None:
        return Check(
            "function",
            FAIL,
            f"controller function {name} not found in {d.region}",
            fix="deploy the controller (sam deploy), or give the right --function / --region",
        )
    message = (
        f"{name}: timeout {config.get('Timeout')} s, runtime {config.get('Runtime')}, "
        f"hook prefix {d.hook_prefix!r}"
    )
    terminate = d.terminate_function_name
    if terminate:
        if d.terminate_function is None:
            return Check(
                "function",
                FAIL,
                f"terminate function {terminate} not found in {d.region}: pool ENIs are given "
                "back only when EC2 has terminated their instance",
                fix="redeploy the controller (sam deploy), or give the right --terminate-function",
            )
        message += f"; {terminate}: timeout {d.terminate_function.get('Timeout')} s"
    for role, fname, fconfig in (
        ("launch", name, config),
        ("terminate", terminate, d.terminate_function),
    ):
        if fname and fconfig and (problem := _function_state(role, fname, fconfig)):
            return problem
    if not any(k in d.function_env for k in DOCUMENT_ENV):
        return Check(
            "function",
            WARN,
            message + f"; its environment has no {DOCUMENT_ENV[0]}: is it the fixed-ip controller?",
            fix="give --function the LaunchFunctionName output of the controller stack",
        )
    return Check("function", PASS, message)


def check_document(d: Deployment) -> Check:
    name = d.document_name
    if not name:
        return Check(
            "document",
            FAIL,
            "the controller's SSM document is unknown (no stack output, no function environment)",
            fix="give --stack NAME or --document NAME",
        )
    ssm = d.client("ssm")
    with aws_errors(f"describing SSM document {name}"):
        try:
            doc = ssm.describe_document(Name=name)["Document"]
        except ssm.exceptions.InvalidDocument:
            doc = None
    if doc is None:
        return Check(
            "document",
            FAIL,
            f"SSM document {name} not found in {d.region}: no address can be configured",
            fix="redeploy the controller stack (it owns the document), or give --document NAME",
        )
    status, kind = doc.get("Status", "Active"), doc.get("DocumentType")
    if kind != "Command" or status != "Active":
        return Check(
            "document",
            FAIL,
            f"SSM document {name} is a {kind} document in status {status}; expected an Active "
            "Command document",
            fix=f"give --document the {DOCUMENT_OUTPUT[0]} output of the controller stack",
        )
    return Check("document", PASS, f"SSM document {name}: Command, Active")
