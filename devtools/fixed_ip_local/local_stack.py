"""A locally "deployed" controller stack for `make local-aws`: what `sam deploy` of
template.yaml leaves in an account, as far as `fixed-ip doctor` reads it.

moto cannot deploy the SAM template (no transform), so this builds the same records from
template.yaml itself: each function with its environment, timeout, runtime and architecture
(the code is a stub: moto never runs it here, `fixed-ip invoke` runs the real code), the
EventBridge rules of the functions' EventBridgeRule events with the template's patterns,
the invoke permissions, and a CloudFormation stack whose parameters and outputs name them.
The names follow SAM's (`<stack>-<LogicalId>`, rules `<stack>-<Function><Event>`)."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from fixed_ip_local.lambda_runner import TemplateFunction, load_template
from fixed_ip_local.simulation import rules_from_template
from fixed_ip_local.world import DOCUMENT_NAME

STACK = "fixed-ip"


@dataclass
class LocalStack:
    name: str
    document: str
    parameters: dict[str, str]
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function name
    rules: dict[str, str] = field(default_factory=dict)  # logical id -> rule name
    outputs: dict[str, str] = field(default_factory=dict)


def _stub_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return None\n")
    return buf.getvalue()


def _role(iam: Any, stack: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName=f"{stack}-FunctionRole", AssumeRolePolicyDocument=json.dumps(trust)
    )
    return role["Role"]["Arn"]


def deploy(
    session: Any,
    *,
    stack: str = STACK,
    document: str = DOCUMENT_NAME,
    parameters: dict[str, str] | None = None,
) -> LocalStack:
    """Create the stack's functions, rules, permissions and the stack record. `parameters`
    are the `--parameter-overrides` of the deployment; the rest keep the template's
    defaults."""
    template = load_template()
    params = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    params.update(parameters or {})
    out = LocalStack(name=stack, document=document, parameters=params)
    lam, events = session.client("lambda"), session.client("events")
    role = _role(session.client("iam"), stack)
    patterns = {r.function: r.pattern for r in rules_from_template(params)}
    arns: dict[str, str] = {}
    rule_arns: dict[str, str] = {}
    functions = {
        k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"
    }
    for logical_id, resource in functions.items():
        fn = TemplateFunction.from_template(
            logical_id, parameters=params, resource_names={"ConfigureDocument": document}
        )
        name = f"{stack}-{logical_id}"
        arns[logical_id] = lam.create_function(
            FunctionName=name,
            Runtime=fn.runtime,
            Architectures=fn.architectures,
            Role=role,
            Handler=fn.handler,
            Code={"ZipFile": _stub_zip()},
            Timeout=int(fn.timeout),
            MemorySize=fn.memory,
            Environment={"Variables": fn.environment},
        )["FunctionArn"]
        out.functions[logical_id] = name
        for event_name, event in resource["Properties"].get("Events", {}).items():
            rule = f"{stack}-{logical_id}{event_name}"
            if event["Type"] == "Schedule":
                # The sweeper's schedule: doctor checks it against the launch hook's timeout.
                schedule = event["Properties"]["Schedule"]
                expression = params[schedule["Ref"]] if isinstance(schedule, dict) else schedule
                events.put_rule(Name=rule, ScheduleExpression=expression, State="ENABLED")
                events.put_targets(Rule=rule, Targets=[{"Id": logical_id, "Arn": arns[logical_id]}])
                out.rules[logical_id] = rule
                continue
            if event["Type"] != "EventBridgeRule":
                continue
            rule_arns[logical_id] = events.put_rule(
                Name=rule, EventPattern=json.dumps(patterns[logical_id]), State="ENABLED"
            )["RuleArn"]
            events.put_targets(Rule=rule, Targets=[{"Id": logical_id, "Arn": arns[logical_id]}])
            lam.add_permission(
                FunctionName=name,
                StatementId=f"{logical_id}{event_name}Permission",
                Action="lambda:InvokeFunction",
                Principal="events.amazonaws.com",
                SourceArn=rule_arns[logical_id],
            )
            out.rules[logical_id] = rule
    known = {
        "LaunchFunctionName": out.functions["LaunchFunction"],
        "LaunchFunctionArn": arns["LaunchFunction"],
        "TerminateFunctionName": out.functions["TerminateFunction"],
        "SweeperFunctionName": out.functions["SweeperFunction"],
        "ConfigureDocumentName": document,
        "LaunchRuleName": out.rules["LaunchFunction"],
        "LaunchRuleArn": rule_arns["LaunchFunction"],
        "LaunchFunctionLogGroupName": f"/aws/lambda/{out.functions['LaunchFunction']}",
    }
    # Only outputs the template really has (a renamed output fails tests/docs, not doctor).
    out.outputs = {k: v for k, v in known.items() if k in template.get("Outputs", {})}
    record = {
        "Parameters": {k: {"Type": "String", "Default": v} for k, v in params.items()},
        "Resources": {
            "LaunchFunctionLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": out.outputs["LaunchFunctionLogGroupName"]},
            }
        },
        "Outputs": {k: {"Value": v} for k, v in out.outputs.items()},
    }
    session.client("cloudformation").create_stack(
        StackName=stack,
        TemplateBody=json.dumps(record),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    return out
