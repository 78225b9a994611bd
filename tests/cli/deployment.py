"""A stand-in for the deployed controller stack, built on moto (or on `fixed-ip local-aws`):
the launch and terminate functions (with the template's environment and timeouts), their
EventBridge rules with the template's own event patterns, the invoke permissions, and a
CloudFormation stack whose outputs and parameters name them, as `sam deploy` of
template.yaml leaves them. `fixed-ip doctor` reads exactly these.

Against the local AWS (to try doctor by hand; the group gets its terminate hook too):

    AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=ap-northeast-1 \\
    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local python -m tests.cli.deployment web-asg
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from dataclasses import dataclass, field
from typing import Any

from fixed_ip_local.simulation import rules_from_template
from fixed_ip_local.world import DOCUMENT_NAME, HOSTNAME_TAG

STACK = "fixed-ip"
# template.yaml: logical id -> (timeout, rule event name, stack output of the name)
FUNCTIONS = {
    "LaunchFunction": (420, "LaunchLifecycleAction", "LaunchFunctionName"),
    "TerminateFunction": (120, "TerminateLifecycleAction", "TerminateFunctionName"),
    "SweeperFunction": (600, "Sweep", "SweeperFunctionName"),
}
SWEEP_SCHEDULE = "rate(5 minutes)"  # template.yaml's SweepSchedule default


@dataclass
class Controller:
    stack: str
    document: str
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> name
    arns: dict[str, str] = field(default_factory=dict)  # logical id -> function ARN
    rules: dict[str, str] = field(default_factory=dict)  # logical id -> rule name
    rule_arns: dict[str, str] = field(default_factory=dict)

    @property
    def function(self) -> str:
        return self.functions["LaunchFunction"]

    @property
    def rule(self) -> str:
        return self.rules["LaunchFunction"]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return None\n")
    return buf.getvalue()


def deploy_controller(
    session: Any,
    *,
    stack: str | None = STACK,
    hook_prefix: str = "fixed-ip",
    document: str = DOCUMENT_NAME,
    launch_timeout: int = 420,
    environment: dict[str, str] | None = None,
    sweep_schedule: str = SWEEP_SCHEDULE,
) -> Controller:
    """`environment` adds to (or overrides) the functions' template environment."""
    role = session.client("iam").create_role(
        RoleName="fixed-ip-function-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    lam, events = session.client("lambda"), session.client("events")
    patterns = {r.function: r.pattern for r in rules_from_template({"HookNamePrefix": hook_prefix})}
    out = Controller(stack=stack or "", document=document)
    outputs: dict[str, dict[str, str]] = {"ConfigureDocumentName": {"Value": document}}
    for logical_id, (timeout, event_name, output) in FUNCTIONS.items():
        name = f"{STACK}-{logical_id}"
        arn = lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": _zip()},
            Timeout=launch_timeout if logical_id == "LaunchFunction" else timeout,
            Environment={
                "Variables": {
                    "FIXED_IP_HOOK_PREFIX": hook_prefix,
                    "FIXED_IP_DOCUMENT": document,
                    "FIXED_IP_HOSTNAME_TAG_KEY": HOSTNAME_TAG,
                    "FIXED_IP_POOL_TAG_KEY": "fixed-ip:pool",
                    "FIXED_IP_ON_POOL_EXHAUSTED": "WAIT",
                    "FIXED_IP_WAIT_FOR_ADDRESS_SECONDS": "3600",
                    **(environment or {}),
                }
            },
        )["FunctionArn"]
        # SAM names the rule <function logical id><event name>, with the template's pattern
        # (the sweeper's: its schedule).
        rule = f"{STACK}-{logical_id}{event_name}"
        trigger = (
            {"ScheduleExpression": sweep_schedule}
            if logical_id == "SweeperFunction"
            else {"EventPattern": json.dumps(patterns[logical_id])}
        )
        rule_arn = events.put_rule(Name=rule, State="ENABLED", **trigger)["RuleArn"]
        events.put_targets(Rule=rule, Targets=[{"Id": logical_id, "Arn": arn}])
        lam.add_permission(
            FunctionName=name,
            StatementId=f"{event_name}Permission",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=rule_arn,
        )
        out.functions[logical_id], out.arns[logical_id] = name, arn
        out.rules[logical_id], out.rule_arns[logical_id] = rule, rule_arn
        outputs[output] = {"Value": name}
    outputs["LaunchFunctionArn"] = {"Value": out.arns["LaunchFunction"]}
    outputs["LaunchRuleName"] = {"Value": out.rules["LaunchFunction"]}
    outputs["LaunchRuleArn"] = {"Value": out.rule_arns["LaunchFunction"]}
    if stack:
        template = {
            "Parameters": {
                "HookNamePrefix": {"Type": "String", "Default": hook_prefix},
                "MaxHealthyPercent": {"Type": "Number", "Default": "110"},
            },
            "Resources": {
                "LaunchFunctionLogGroup": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {"LogGroupName": f"/aws/lambda/{out.function}"},
                }
            },
            "Outputs": outputs,
        }
        session.client("cloudformation").create_stack(
            StackName=stack, TemplateBody=json.dumps(template)
        )
    return out


def add_terminate_hook(session: Any, group: str, hook_prefix: str = "fixed-ip") -> None:
    """template.yaml's TerminateHook."""
    session.client("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=group,
        LifecycleHookName=f"{hook_prefix}-terminate",
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        DefaultResult="CONTINUE",
        HeartbeatTimeout=300,
    )


def complete_launches(session: Any, group: str, pool: str | None = None) -> list[str]:
    """Do what the controller does for every instance of `group` in Pending:Wait: attach the
    lowest free pool ENI of its AZ and complete the action with CONTINUE."""
    from fixed_ip_local import moto_patches

    ec2, autoscaling = session.client("ec2"), session.client("autoscaling")
    done = []
    (g,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ]
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    for inst in g["Instances"]:
        if inst["LifecycleState"] != "Pending:Wait":
            continue
        free = ec2.describe_network_interfaces(
            Filters=[
                {"Name": "tag:fixed-ip:pool", "Values": [pool or group]},
                {"Name": "availability-zone", "Values": [inst["AvailabilityZone"]]},
                {"Name": "status", "Values": ["available"]},
            ]
        )["NetworkInterfaces"]
        free.sort(key=lambda e: tuple(int(x) for x in e["PrivateIpAddress"].split(".")))
        ec2.attach_network_interface(
            NetworkInterfaceId=free[0]["NetworkInterfaceId"],
            InstanceId=inst["InstanceId"],
            DeviceIndex=1,
        )
        for hook in hooks:
            token = moto_patches.active_token(
                inst["InstanceId"], hook["LifecycleHookName"], session.region_name
            )
            if token:
                autoscaling.complete_lifecycle_action(
                    AutoScalingGroupName=group,
                    LifecycleHookName=hook["LifecycleHookName"],
                    LifecycleActionToken=token,
                    LifecycleActionResult="CONTINUE",
                )
        done.append(inst["InstanceId"])
    return done


if __name__ == "__main__":
    import boto3

    session = boto3.Session()
    deployed = deploy_controller(session)
    for group_name in sys.argv[1:]:
        add_terminate_hook(session, group_name)
    print(
        f"deployed stand-in controller: stack {deployed.stack}, functions "
        f"{', '.join(deployed.functions.values())}, rules {', '.join(deployed.rules.values())}, "
        f"document {deployed.document}"
        + (f"; terminate hook added to {', '.join(sys.argv[1:])}" if sys.argv[1:] else "")
    )
