"""`fixed-ip doctor` on moto: a healthy deployment passes; each broken part fails (or
warns) with its fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fixed_ip_cli.errors import EXIT_FAILED, EXIT_OK
from fixed_ip_local.world import World, build_world, create_pool_eni
from tests.cli.conftest import Run, fresh_client, refuse_call
from tests.cli.deployment import (
    Controller,
    add_terminate_hook,
    complete_launches,
    deploy_controller,
)

GROUP = "web-asg"
REGION = "ap-northeast-1"


@dataclass
class Deployed:
    aws: Any
    world: World
    controller: Controller


def deploy(aws: Any, *, per_az: int = 4, **world: Any) -> Deployed:
    built = build_world(aws, per_az=per_az, azs=2, max_size=6, **world)
    controller = deploy_controller(aws)
    add_terminate_hook(aws, GROUP)
    aws.client("autoscaling").set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
    complete_launches(aws, GROUP)
    return Deployed(aws, built, controller)


@pytest.fixture
def healthy(aws) -> Deployed:
    """The controller stack (stand-in), the seed world with 4 ENIs per AZ (max 6 at 110 % =
    7 over 2 AZs needs 4 per AZ), both hooks, and 2 instances in service holding their ENIs."""
    return deploy(aws)


def doctor(run: Run, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = run("doctor", "--group", GROUP, "--output", "json", *args)
    assert "Traceback" not in result.err
    doc = json.loads(result.out)
    assert doc["ok"] == (result.code == EXIT_OK)
    return result.code, {c["id"]: c for c in doc["checks"]}


ALL = [
    "stack",
    "function",
    "document",
    "group",
    "launch-hook",
    "terminate-hook",
    "rule",
    "permission",
    "sweeper",
    "wait-bound",
    "pool-coverage",
    "pool-capacity",
    "refresh",
    "instances",
    "held-outside",
]


def test_a_healthy_deployment_passes(healthy: Deployed, run: Run) -> None:
    code, checks = doctor(run)
    assert list(checks) == ALL
    assert {k: c["status"] for k, c in checks.items()} == dict.fromkeys(ALL, "pass")
    assert code == EXIT_OK
    assert checks["launch-hook"]["message"] == (
        "fixed-ip-launch: DefaultResult ABANDON, HeartbeatTimeout 900 s > function timeout "
        "420 s, pool web-asg"
    )
    assert checks["rule"]["message"].startswith(
        "fixed-ip-LaunchFunctionLaunchLifecycleAction: enabled, default bus"
    )
    assert checks["terminate-hook"]["message"] == (
        "fixed-ip-terminate: HeartbeatTimeout 300 s, routed to fixed-ip-TerminateFunction"
    )
    assert checks["pool-capacity"]["message"] == (
        "pool web-asg: need 4 per AZ (max 6 at 110% over 2 AZs); "
        "ap-northeast-1a: 4 usable (3 free), ap-northeast-1c: 4 usable (3 free)"
    )
    assert checks["instances"]["message"] == "2 instance(s) in service, each with its pool ENI"


def test_text_output(healthy: Deployed, run: Run) -> None:
    result = run("doctor", "--group", GROUP)
    assert result.code == EXIT_OK
    lines = result.out.splitlines()
    assert lines[0] == f"doctor: group {GROUP} in ap-northeast-1, controller stack fixed-ip"
    assert lines[1].startswith("PASS  stack           stack fixed-ip is CREATE_COMPLETE: function")
    assert lines[-1] == "15 checks: 15 pass, 0 warn, 0 fail, 0 skip"


def test_without_a_stack_given_function_and_document(healthy: Deployed, run: Run) -> None:
    healthy.aws.client("cloudformation").delete_stack(StackName="fixed-ip")
    functions = healthy.controller.functions
    code, checks = doctor(
        run,
        "--function",
        functions["LaunchFunction"],
        "--terminate-function",
        functions["TerminateFunction"],
    )
    assert code == EXIT_OK, checks
    assert checks["stack"]["status"] == "skip"
    # the document and hook prefix come from the function's environment
    assert checks["document"]["status"] == "pass"
    assert checks["rule"]["status"] == "pass"


# ------------------------------------------------------------------------ broken parts


def _delete_stack(d: Deployed) -> None:
    d.aws.client("cloudformation").delete_stack(StackName="fixed-ip")


def _delete_function(d: Deployed) -> None:
    d.aws.client("lambda").delete_function(FunctionName=d.controller.function)


def _delete_document(d: Deployed) -> None:
    d.aws.client("ssm").delete_document(Name=d.world.document)


def _put_hook(d: Deployed, **params: Any) -> None:
    d.aws.client("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=GROUP, LifecycleHookName="fixed-ip-launch", **params
    )


def _delete_hook(d: Deployed) -> None:
    d.aws.client("autoscaling").delete_lifecycle_hook(
        AutoScalingGroupName=GROUP, LifecycleHookName="fixed-ip-launch"
    )


def _rename_hook(d: Deployed) -> None:
    _delete_hook(d)
    d.aws.client("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=GROUP,
        LifecycleHookName="web-launch",
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        DefaultResult="ABANDON",
        HeartbeatTimeout=900,
    )


def _delete_terminate_hook(d: Deployed) -> None:
    d.aws.client("autoscaling").delete_lifecycle_hook(
        AutoScalingGroupName=GROUP, LifecycleHookName="fixed-ip-terminate"
    )


def _delete_terminate_rule(d: Deployed) -> None:
    events = d.aws.client("events")
    rule = d.controller.rules["TerminateFunction"]
    events.remove_targets(Rule=rule, Ids=["TerminateFunction"])
    events.delete_rule(Name=rule)


def _delete_terminate_function(d: Deployed) -> None:
    d.aws.client("lambda").delete_function(FunctionName=d.controller.functions["TerminateFunction"])


def _remove_terminate_permission(d: Deployed) -> None:
    d.aws.client("lambda").remove_permission(
        FunctionName=d.controller.functions["TerminateFunction"],
        StatementId="TerminateLifecycleActionPermission",
    )


def _disable_rule(d: Deployed) -> None:
    d.aws.client("events").disable_rule(Name=d.controller.rule)


def _delete_rule(d: Deployed) -> None:
    events = d.aws.client("events")
    events.remove_targets(Rule=d.controller.rule, Ids=["LaunchFunction"])
    events.delete_rule(Name=d.controller.rule)


def _narrow_rule(d: Deployed) -> None:
    pattern = {
        "source": ["aws.autoscaling"],
        "detail-type": ["EC2 Instance-launch Lifecycle Action"],
        "detail": {"AutoScalingGroupName": ["db-asg"]},
    }
    d.aws.client("events").put_rule(Name=d.controller.rule, EventPattern=json.dumps(pattern))


def _remove_permission(d: Deployed) -> None:
    d.aws.client("lambda").remove_permission(
        FunctionName=d.controller.function, StatementId="LaunchLifecycleActionPermission"
    )


def _delete_enis(d: Deployed, az: str, keep: int) -> None:
    ec2 = d.aws.client("ec2")
    enis = ec2.describe_network_interfaces(
        Filters=[
            {"Name": "tag:fixed-ip:pool", "Values": [d.world.pool]},
            {"Name": "availability-zone", "Values": [az]},
            {"Name": "status", "Values": ["available"]},
        ]
    )["NetworkInterfaces"]
    held = 4 - len(enis)
    for eni in enis[: max(0, len(enis) - (keep - held))]:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])


def _empty_az(d: Deployed) -> None:
    # the instance in 1c keeps its ENI; make it leave first so the AZ is really empty
    autoscaling = d.aws.client("autoscaling")
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])[
        "AutoScalingGroups"
    ]
    ec2 = d.aws.client("ec2")
    for eni in ec2.describe_network_interfaces(
        Filters=[
            {"Name": "tag:fixed-ip:pool", "Values": [d.world.pool]},
            {"Name": "availability-zone", "Values": ["ap-northeast-1c"]},
        ]
    )["NetworkInterfaces"]:
        if eni.get("Attachment"):
            ec2.detach_network_interface(AttachmentId=eni["Attachment"]["AttachmentId"])
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert group["Instances"]


def _invalid_host_names(d: Deployed) -> None:
    ec2 = d.aws.client("ec2")
    for eni_id, host_name in d.world.enis.items():
        if host_name in {"server-a3", "server-a4"}:
            ec2.create_tags(Resources=[eni_id], Tags=[{"Key": "HostName", "Value": "a;reboot"}])


def _reserved_for_others(d: Deployed) -> None:
    ec2 = d.aws.client("ec2")
    for eni_id, host_name in d.world.enis.items():
        if host_name in {"server-a3", "server-a4"}:
            ec2.create_tags(
                Resources=[eni_id], Tags=[{"Key": "fixed-ip:groups", "Value": "batch-*"}]
            )


def _second_pool_eni(d: Deployed) -> None:
    ec2 = d.aws.client("ec2")
    held = ec2.describe_network_interfaces(
        Filters=[
            {"Name": "tag:fixed-ip:pool", "Values": [d.world.pool]},
            {"Name": "status", "Values": ["in-use"]},
            {"Name": "availability-zone", "Values": ["ap-northeast-1a"]},
        ]
    )["NetworkInterfaces"][0]
    spare = create_pool_eni(
        ec2, d.world.subnets["ap-northeast-1a"], "10.0.0.40", "server-a9", d.world.pool
    )
    ec2.attach_network_interface(
        NetworkInterfaceId=spare, InstanceId=held["Attachment"]["InstanceId"], DeviceIndex=2
    )


BROKEN: dict[str, tuple[Callable[[Deployed], None], str, str, str, str]] = {
    # name: (break it, check, status, message part, fix part)
    "stack deleted": (
        _delete_stack,
        "stack",
        "fail",
        "controller stack fixed-ip not found in ap-northeast-1",
        "sam deploy --guided",
    ),
    "function deleted": (
        _delete_function,
        "function",
        "fail",
        "controller function fixed-ip-LaunchFunction not found",
        "deploy the controller (sam deploy)",
    ),
    "document deleted": (
        _delete_document,
        "document",
        "fail",
        "SSM document fixed-ip-ConfigureDocument not found",
        "redeploy the controller stack (it owns the document)",
    ),
    "launch hook missing": (
        _delete_hook,
        "launch-hook",
        "fail",
        "no launch lifecycle hook whose name starts with 'fixed-ip' on web-asg",
        "aws autoscaling put-lifecycle-hook --auto-scaling-group-name web-asg "
        "--lifecycle-hook-name fixed-ip-launch --lifecycle-transition "
        "autoscaling:EC2_INSTANCE_LAUNCHING --default-result ABANDON --heartbeat-timeout 900",
    ),
    "launch hook without the prefix": (
        _rename_hook,
        "launch-hook",
        "fail",
        "(launch hooks found: web-launch)",
        "--lifecycle-hook-name fixed-ip-launch",
    ),
    "hook DefaultResult CONTINUE": (
        lambda d: _put_hook(d, DefaultResult="CONTINUE"),
        "launch-hook",
        "fail",
        "launch hook fixed-ip-launch on web-asg: 1 problem(s)",
        "--default-result ABANDON --heartbeat-timeout 900",
    ),
    "hook heartbeat below the function timeout": (
        lambda d: _put_hook(d, HeartbeatTimeout=300),
        "launch-hook",
        "fail",
        "launch hook fixed-ip-launch on web-asg: 1 problem(s)",
        "--heartbeat-timeout 900",
    ),
    "hook metadata the controller refuses": (
        lambda d: _put_hook(d, NotificationMetadata='{"pol": "web-asg"}'),
        "launch-hook",
        "fail",
        "launch hook fixed-ip-launch on web-asg: 1 problem(s)",
        '--notification-metadata \'{"pool": "web-asg"}\'',
    ),
    "terminate hook nobody completes": (
        _delete_terminate_rule,
        "terminate-hook",
        "fail",
        "terminate hook fixed-ip-terminate holds every terminating instance in "
        "Terminating:Wait for 300 s",
        "aws autoscaling delete-lifecycle-hook --auto-scaling-group-name web-asg "
        "--lifecycle-hook-name fixed-ip-terminate",
    ),
    "terminate hook missing": (
        _delete_terminate_hook,
        "terminate-hook",
        "warn",
        "fixed-ip-TerminateFunction never runs",
        "--lifecycle-hook-name fixed-ip-terminate --lifecycle-transition "
        "autoscaling:EC2_INSTANCE_TERMINATING --default-result CONTINUE --heartbeat-timeout 300",
    ),
    "terminate function deleted": (
        _delete_terminate_function,
        "function",
        "fail",
        "terminate function fixed-ip-TerminateFunction not found",
        "redeploy the controller",
    ),
    "terminate permission missing": (
        _remove_terminate_permission,
        "permission",
        "fail",
        "fixed-ip-TerminateFunction does not allow EventBridge rule "
        "fixed-ip-TerminateFunctionTerminateLifecycleAction to invoke it",
        "aws lambda add-permission --function-name fixed-ip-TerminateFunction",
    ),
    "rule disabled": (
        _disable_rule,
        "rule",
        "fail",
        "no enabled rule delivers launch actions of web-asg / fixed-ip-launch",
        "aws events enable-rule --name fixed-ip-LaunchFunctionLaunchLifecycleAction",
    ),
    "rule deleted": (
        _delete_rule,
        "rule",
        "fail",
        "no enabled rule delivers launch actions of web-asg / fixed-ip-launch",
        "redeploy the controller stack",
    ),
    "rule pattern does not match the group": (
        _narrow_rule,
        "rule",
        "fail",
        "no enabled rule delivers launch actions",
        "redeploy the controller stack with the right HookNamePrefix",
    ),
    "invoke permission missing": (
        _remove_permission,
        "permission",
        "fail",
        "does not allow EventBridge rule fixed-ip-LaunchFunctionLaunchLifecycleAction to invoke",
        "aws lambda add-permission --function-name fixed-ip-LaunchFunction",
    ),
    "no pool ENI in an AZ": (
        _empty_az,
        "pool-coverage",
        "fail",
        "pool web-asg has no ENI in ap-northeast-1c (ap-northeast-1a: 4, ap-northeast-1c: 0)",
        "add addresses in that subnet to the pool spec and run `fixed-ip pool apply SPEC`",
    ),
    "too few ENIs for the max size": (
        lambda d: _delete_enis(d, "ap-northeast-1a", keep=2),
        "pool-capacity",
        "fail",
        "ap-northeast-1a: 2 usable (1 free)",
        "add addresses (2 in ap-northeast-1a)",
    ),
    "no headroom for replacements": (
        lambda d: _delete_enis(d, "ap-northeast-1a", keep=3),
        "pool-capacity",
        "warn",
        "ap-northeast-1a: 3 usable (2 free)",
        "add addresses (1 in ap-northeast-1a)",
    ),
    "invalid host name tags": (
        _invalid_host_names,
        "pool-capacity",
        "fail",
        "ap-northeast-1a: 2 usable (1 free)",
        "add addresses (2 in ap-northeast-1a)",
    ),
    "ENIs reserved for other groups": (
        _reserved_for_others,
        "pool-capacity",
        "fail",
        "ap-northeast-1a: 2 usable (1 free)",
        "add addresses (2 in ap-northeast-1a)",
    ),
    "an instance with two pool ENIs": (
        _second_pool_eni,
        "instances",
        "fail",
        "1 instance(s) hold more than one ENI of pool web-asg",
        "aws ec2 detach-network-interface",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_each_broken_part_fails_with_its_fix(healthy: Deployed, run: Run, broken: str) -> None:
    breaker, check_id, status, message, fix = BROKEN[broken]
    breaker(healthy)
    code, checks = doctor(run)
    check = checks[check_id]
    assert check["status"] == status, check
    assert message in check["message"] + " ".join(check["details"]), check
    assert fix in (check["fix"] or ""), check
    assert code == (EXIT_FAILED if status == "fail" else EXIT_OK)
    # the other checks are not confused by it (those that depend on it may skip)
    also = ALSO_AFFECTED.get(broken, set()) | {check_id}
    others = {c: checks[c]["status"] for c in ALL if c not in also}
    assert set(others.values()) <= {"pass", "skip"}, others


# What else a broken part legitimately affects.
ALSO_AFFECTED = {
    # nothing names the functions and document any more; the hook's heartbeat cannot be
    # compared with the function's timeout (warn)
    "stack deleted": {"function", "document", "launch-hook"},
    # the terminate rule that is left targets a function that is gone
    "terminate function deleted": {"terminate-hook"},
    # the stack's rule targets a function that is gone
    "function deleted": {"rule", "launch-hook"},
    # 0 usable; 1c lost its ENI; no refresh fits either
    "no pool ENI in an AZ": {"pool-capacity", "instances", "refresh"},
    # a 300 s heartbeat is not longer than the sweeper's 5 minutes (policy WAIT)
    "hook heartbeat below the function timeout": {"sweeper"},
    # too few for the max size: too few for any refresh
    "too few ENIs for the max size": {"refresh"},
    "invalid host name tags": {"refresh"},
    "ENIs reserved for other groups": {"refresh"},
}


def test_hook_details_name_the_problem(healthy: Deployed, run: Run) -> None:
    _put_hook(healthy, DefaultResult="CONTINUE", HeartbeatTimeout=300)
    _, checks = doctor(run)
    details = checks["launch-hook"]["details"]
    assert details == [
        "fixed-ip-launch: DefaultResult CONTINUE: an instance the controller never answers "
        "would go InService without its address",
        "fixed-ip-launch: HeartbeatTimeout 300 s is not above the function timeout 420 s: "
        "the hook can expire (ABANDON) while the controller still works",
    ]


def test_an_unknown_group(healthy: Deployed, run: Run) -> None:
    result = run("doctor", "--group", "nope", "-o", "json")
    assert result.code == EXIT_FAILED
    checks = {c["id"]: c for c in json.loads(result.out)["checks"]}
    assert checks["group"]["status"] == "fail"
    assert "describe-auto-scaling-groups" in checks["group"]["fix"]
    for dependent in ("launch-hook", "terminate-hook", "pool-coverage", "instances"):
        assert checks[dependent]["status"] == "skip"


def test_a_pool_without_any_eni_names_the_pools_that_exist(aws, run: Run) -> None:
    deploy(aws, metadata={"pool": "web"})
    code, checks = doctor(run)
    assert code == EXIT_FAILED
    coverage = checks["pool-coverage"]
    assert coverage["message"] == (
        "pool web has no ENI (pools found in ap-northeast-1: web-asg): every launch is abandoned"
    )
    assert "fixed-ip pool apply SPEC.yaml" in coverage["fix"]


def test_instances_started_before_the_hook_are_listed(aws, run: Run) -> None:
    build_world(aws, per_az=4, azs=2, max_size=6, hook=False)
    deploy_controller(aws)
    autoscaling = aws.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName=GROUP,
        LifecycleHookName="fixed-ip-launch",
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        DefaultResult="ABANDON",
        HeartbeatTimeout=900,
    )
    code, checks = doctor(run)
    instances = checks["instances"]
    assert instances["status"] == "warn" and code == EXIT_OK
    assert instances["message"].startswith("2 of 2 instance(s) have no pool ENI (started before")
    assert len(instances["details"]) == 2
    assert all("(InService, ap-northeast-1" in d for d in instances["details"])
    assert "start-instance-refresh --auto-scaling-group-name web-asg" in instances["fix"]


def test_pool_from_hook_metadata_and_the_replacements_headroom(aws, run: Run) -> None:
    build_world(aws, pool="web", per_az=3, azs=2, max_size=6, metadata={"pool": "web"})
    deploy_controller(aws)
    code, checks = doctor(run)
    assert checks["pool-coverage"]["message"].startswith("pool web has ENIs in every AZ")
    assert checks["pool-capacity"]["status"] == "warn" and code == EXIT_OK
    _, checks = doctor(run, "--max-healthy-percent", "100")
    assert checks["pool-capacity"]["status"] == "pass"


def test_the_groups_maintenance_policy_wins_over_the_stacks_parameter() -> None:
    """moto keeps no InstanceMaintenancePolicy: the state is given directly."""
    from types import SimpleNamespace

    from fixed_ip_cli.doctor import Deployment, Options

    d = Deployment(SimpleNamespace(region_name=REGION), Options(group=GROUP))
    d.__dict__["stack"] = {"parameters": {"MaxHealthyPercent": "120"}}
    d.__dict__["group"] = {"InstanceMaintenancePolicy": {"MaxHealthyPercentage": 150}}
    assert d.max_healthy_percent == 150
    # AWS reports -1 when the group's policy leaves it unset
    d.__dict__["group"] = {"InstanceMaintenancePolicy": {"MaxHealthyPercentage": -1}}
    assert d.max_healthy_percent == 120
    d.__dict__["stack"] = None
    assert d.max_healthy_percent == 110
    d = Deployment(SimpleNamespace(region_name=REGION), Options(GROUP, max_healthy_percent=100))
    assert d.max_healthy_percent == 100


def test_an_aws_error_in_one_check_fails_that_check_only(healthy: Deployed, run: Run, monkeypatch):
    refuse_call(
        monkeypatch, "events", "ListRuleNamesByTarget", "AccessDeniedException", "not allowed"
    )
    code, checks = doctor(run)
    assert code == EXIT_FAILED
    assert checks["rule"]["status"] == "fail"
    assert checks["rule"]["message"].startswith(
        "could not check: listing the EventBridge rules of the controller: AccessDeniedException"
    )
    assert "allow ListRuleNamesByTarget" in checks["rule"]["message"]
    assert checks["pool-capacity"]["status"] == "pass"


# ------------------------------------------------------------------ event pattern matching
# doctor asks EventBridge (TestEventPattern); on moto, the fidelity patch answers with moto's
# own matcher. These cases pin that answer for the matchers rules use, the template's first.

LAUNCH = {
    "version": "0",
    "id": "00000000-0000-0000-0000-000000000000",
    "account": "123456789012",
    "time": "2026-12-01T00:00:00Z",
    "region": REGION,
    "source": "aws.autoscaling",
    "detail-type": "EC2 Instance-launch Lifecycle Action",
    "detail": {
        "LifecycleHookName": "fixed-ip-launch",
        "AutoScalingGroupName": "web-asg",
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
    },
    "resources": ["arn:a", "arn:b"],
}


def event_pattern_matches(pattern: dict[str, Any], event: dict[str, Any] = LAUNCH) -> bool:
    answer = fresh_client("events").test_event_pattern(
        EventPattern=json.dumps(pattern), Event=json.dumps(event)
    )
    return bool(answer["Result"])


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ({"source": ["aws.autoscaling"]}, True),
        ({"source": ["aws.ec2"]}, False),
        ({"detail": {"LifecycleHookName": [{"prefix": "fixed-ip"}]}}, True),
        ({"detail": {"LifecycleHookName": [{"prefix": "web"}]}}, False),
        ({"detail": {"LifecycleHookName": [{"suffix": "-launch"}]}}, True),
        ({"detail": {"LifecycleHookName": [{"wildcard": "fixed-*"}]}}, True),
        ({"detail": {"AutoScalingGroupName": [{"anything-but": "db-asg"}]}}, True),
        ({"detail": {"AutoScalingGroupName": [{"anything-but": ["web-asg"]}]}}, False),
        ({"detail": {"AutoScalingGroupName": [{"equals-ignore-case": "WEB-ASG"}]}}, True),
        ({"detail": {"Origin": [{"exists": False}]}}, True),
        ({"detail": {"Origin": [{"exists": True}]}}, False),
        ({"detail": {"Origin": ["EC2"]}}, False),
        ({"resources": ["arn:b"]}, True),
        ({"$or": [{"source": ["x"]}, {"detail": {"AutoScalingGroupName": ["web-asg"]}}]}, True),
        ({"detail": {"LifecycleHookName": [{"prefix": {"equals-ignore-case": "FIXED"}}]}}, True),
    ],
)
def test_test_event_pattern_on_moto(aws, pattern: dict[str, Any], matches: bool) -> None:
    assert event_pattern_matches(pattern) is matches


def test_the_templates_own_rules_match_their_own_transition_of_prefixed_hooks_only(aws) -> None:
    from fixed_ip_local.simulation import rules_from_template

    rules = {r.function: r.pattern for r in rules_from_template()}
    assert event_pattern_matches(rules["LaunchFunction"])
    other = {**LAUNCH, "detail": {**LAUNCH["detail"], "LifecycleHookName": "web-launch"}}
    assert not event_pattern_matches(rules["LaunchFunction"], other)
    assert not event_pattern_matches(rules["TerminateFunction"])


def test_a_pattern_eventbridge_refuses_is_a_warning_naming_it(
    healthy: Deployed, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EventBridge's own reason is passed on; the rule is left unevaluated (warn)."""
    reason = "Event pattern is not valid. Reason: Unrecognized match type future-matcher"

    refuse_call(monkeypatch, "events", "TestEventPattern", "InvalidEventPatternException", reason)
    code, checks = doctor(run)
    assert code == EXIT_OK
    rule = checks["rule"]
    assert rule["status"] == "warn"
    assert rule["details"] == [
        f"fixed-ip-LaunchFunctionLaunchLifecycleAction: EventBridge cannot evaluate its "
        f"pattern ({reason})",
        f"fixed-ip-TerminateFunctionTerminateLifecycleAction: EventBridge cannot evaluate its "
        f"pattern ({reason})",
    ]


def test_doctor_needs_permission_to_test_patterns(
    healthy: Deployed, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_call(monkeypatch, "events", "TestEventPattern", "AccessDeniedException", "not allowed")
    code, checks = doctor(run)
    assert code == EXIT_FAILED
    assert checks["terminate-hook"]["message"].startswith(
        "could not check: testing the event pattern of rule fixed-ip-"
    )
    assert "allow TestEventPattern" in checks["rule"]["message"]


def test_moto_test_event_pattern_refuses_what_eventbridge_refuses(aws) -> None:
    """The fidelity patch: an event without a mandatory field, a pattern EventBridge
    would not accept."""
    from botocore.exceptions import ClientError

    events = fresh_client("events")
    incomplete = {k: v for k, v in LAUNCH.items() if k != "account"}
    with pytest.raises(ClientError) as err:
        events.test_event_pattern(EventPattern="{}", Event=json.dumps(incomplete))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "missing mandatory field account" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        events.test_event_pattern(
            EventPattern=json.dumps({"source": "aws.autoscaling"}), Event=json.dumps(LAUNCH)
        )
    assert err.value.response["Error"]["Code"] == "InvalidEventPatternException"


def test_a_controller_deployed_before_the_configure_document(healthy: Deployed, run: Run) -> None:
    """Its function names the document FIXED_IP_HOSTNAME_DOCUMENT: doctor still finds it."""
    lam = healthy.aws.client("lambda")
    function = healthy.controller.function
    env = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    env["FIXED_IP_HOSTNAME_DOCUMENT"] = env.pop("FIXED_IP_DOCUMENT")
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": env})
    healthy.aws.client("cloudformation").delete_stack(StackName="fixed-ip")
    functions = healthy.controller.functions
    code, checks = doctor(
        run, "--function", function, "--terminate-function", functions["TerminateFunction"]
    )
    assert (checks["function"]["status"], checks["document"]["status"]) == ("pass", "pass")
    assert healthy.controller.document in checks["document"]["message"]
    assert code == EXIT_OK


def test_doctor_s_capacity_is_the_library_s(healthy: Deployed, run: Run) -> None:
    """doctor counts usable ENIs with fixed_ip.capacity, as the sweeper does: an ENI with
    an invalid host name is not usable, one without a host name is, one reserved for other
    groups is not."""
    from fixed_ip.adapters.ec2 import Ec2Compute
    from fixed_ip.capacity import Demand, by_group

    ec2 = healthy.aws.client("ec2")
    names = {host: eni for eni, host in healthy.world.enis.items()}
    ec2.create_tags(Resources=[names["server-a3"]], Tags=[{"Key": "HostName", "Value": "a;b"}])
    ec2.delete_tags(Resources=[names["server-c3"]], Tags=[{"Key": "HostName"}])
    ec2.create_tags(
        Resources=[names["server-c4"]], Tags=[{"Key": "fixed-ip:groups", "Value": "batch-*"}]
    )
    code, checks = doctor(run)

    (group,) = healthy.aws.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUP]
    )["AutoScalingGroups"]
    demand = Demand(
        group=GROUP,
        pool=healthy.world.pool,
        azs=("ap-northeast-1a", "ap-northeast-1c"),
        need=4,
        vpc_ids=frozenset({healthy.world.vpc_id}),
        instance_ids=frozenset(i["InstanceId"] for i in group["Instances"]),
    )
    enis = Ec2Compute(ec2).list_pool(tag_key="fixed-ip:pool", pool=healthy.world.pool)
    rows = by_group(enis, demand)
    assert [(r.free, r.in_use) for r in rows] == [(2, 1), (2, 1)]
    expected = ", ".join(f"{r.az}: {r.free + r.in_use} usable ({r.free} free)" for r in rows)
    assert checks["pool-capacity"]["message"].endswith(expected)
    assert checks["pool-capacity"]["status"] == "warn"  # 3 usable: max size yes, headroom no
    assert code == EXIT_OK


def test_a_pool_tag_on_a_primary_interface_is_not_a_second_eni(healthy: Deployed, run: Run) -> None:
    """A launch template that tags every interface tags the primary with the pool too: it
    is never a fixed address, so the instance does not hold two."""
    ec2 = healthy.aws.client("ec2")
    (group,) = healthy.aws.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUP]
    )["AutoScalingGroups"]
    instance = group["Instances"][0]["InstanceId"]
    (primary,) = [
        ni["NetworkInterfaceId"]
        for r in ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        for i in r["Instances"]
        for ni in i["NetworkInterfaces"]
        if ni["Attachment"]["DeviceIndex"] == 0
    ]
    ec2.create_tags(Resources=[primary], Tags=[{"Key": "fixed-ip:pool", "Value": GROUP}])
    code, checks = doctor(run)
    assert checks["instances"]["status"] == "pass", checks["instances"]
    assert checks["pool-capacity"]["status"] == "pass", checks["pool-capacity"]
    assert code == EXIT_OK
