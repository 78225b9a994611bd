"""`fixed-ip doctor` on the group's life beyond launches (issue 13): whether the pool can
carry an instance refresh, checked before one starts; pool ENIs kept by instances detached
from the group; the WAIT policy's bound and the sweeper's schedule against the launch
hook's heartbeat timeout."""

from __future__ import annotations

from typing import Any

import pytest

from fixed_ip_cli.doctor.wait_checks import schedule_seconds
from fixed_ip_cli.errors import EXIT_FAILED, EXIT_OK
from fixed_ip_local.world import build_world
from tests.cli.conftest import Run, fresh_client
from tests.cli.deployment import add_terminate_hook, complete_launches, deploy_controller
from tests.cli.test_doctor import GROUP, Deployed, deploy, doctor

AZ_A, AZ_C = "ap-northeast-1a", "ap-northeast-1c"


# --------------------------------------------------------------------------- refresh


@pytest.fixture
def six_over_six(aws) -> Any:
    """A group of 6 (max 6) over a pool of 6 addresses, 3 per AZ, every one in use."""
    build_world(aws, per_az=3, azs=2, max_size=6)
    deploy_controller(aws)
    add_terminate_hook(aws, GROUP)
    aws.client("autoscaling").set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=6)
    assert len(complete_launches(aws, GROUP)) == 6
    return aws


def with_maintenance_policy(monkeypatch: pytest.MonkeyPatch, percent: int) -> None:
    """moto keeps no InstanceMaintenancePolicy: DescribeAutoScalingGroups answers with the
    one AWS would return for a group that has it."""
    from fixed_ip_cli import awsutil

    def add_policy(parsed: dict[str, Any], **kwargs: Any) -> None:
        for group in parsed.get("AutoScalingGroups", []):
            group["InstanceMaintenancePolicy"] = {
                "MinHealthyPercentage": 90 if percent == 100 else 100,
                "MaxHealthyPercentage": percent,
            }

    def client(session: Any, service: str) -> Any:
        made = fresh_client(service)  # not the shared one: the handler must not outlive the test
        made.meta.events.register("after-call.autoscaling.DescribeAutoScalingGroups", add_policy)
        return made

    monkeypatch.setattr(awsutil, "client", client)


def test_refresh_of_six_over_six_at_100_percent_passes(
    six_over_six: Any, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_maintenance_policy(monkeypatch, 100)
    code, checks = doctor(run)
    assert checks["refresh"]["status"] == "pass"
    assert checks["refresh"]["message"] == (
        "pool web-asg can carry a terminate-first instance refresh at MaxHealthyPercentage 100 "
        "(the group's InstanceMaintenancePolicy); addresses per AZ: ap-northeast-1a: 3 for up "
        "to 3, ap-northeast-1c: 3 for up to 3"
    )
    assert checks["pool-capacity"]["status"] == "pass"  # 100 % too: no headroom needed
    assert code == EXIT_OK


ADVICE_150 = (
    "pool 'web-asg' in {az}: 3 addresses, but a launch-first refresh (MaxHealthyPercentage "
    "150) may run 5 instances there: add 2 address(es) in {az}, or refresh terminate-first "
    "(MaxHealthyPercentage 100, MinHealthyPercentage below 100), where every replacement "
    "reuses the address its predecessor released"
)


def test_refresh_of_six_over_six_at_150_percent_warns_with_the_advice(
    six_over_six: Any, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_maintenance_policy(monkeypatch, 150)
    code, checks = doctor(run)
    refresh = checks["refresh"]
    assert refresh["status"] == "warn" and code == EXIT_OK
    assert refresh["message"] == (
        "a launch-first instance refresh at MaxHealthyPercentage 150 (the group's "
        "InstanceMaintenancePolicy) needs more addresses than pool web-asg has "
        "(ap-northeast-1a: 3 for up to 5, ap-northeast-1c: 3 for up to 5); a terminate-first "
        "one (MaxHealthyPercentage 100) fits"
    )
    assert refresh["details"] == [ADVICE_150.format(az=AZ_A), ADVICE_150.format(az=AZ_C)]
    assert refresh["fix"] == (
        "add addresses (2 in ap-northeast-1a, 2 in ap-northeast-1c) to the pool spec and run "
        "`fixed-ip pool apply SPEC`; or refresh terminate-first: aws autoscaling "
        "start-instance-refresh --auto-scaling-group-name web-asg --preferences "
        '\'{"MinHealthyPercentage": 90, "MaxHealthyPercentage": 100}\' (and for the '
        "replacements the policy itself drives: aws autoscaling update-auto-scaling-group "
        "--auto-scaling-group-name web-asg --instance-maintenance-policy "
        "MinHealthyPercentage=90,MaxHealthyPercentage=100)"
    )


def test_the_refresh_the_operator_plans(six_over_six: Any, run: Run) -> None:
    """Without a maintenance policy a refresh defaults to terminate-first (passes);
    --max-healthy-percent names the launch-first one the operator plans."""
    _, checks = doctor(run)
    assert checks["refresh"]["status"] == "pass"
    assert (
        "(no InstanceMaintenancePolicy: AWS's default for a refresh)"
        in (checks["refresh"]["message"])
    )
    _, checks = doctor(run, "--max-healthy-percent", "150")
    refresh = checks["refresh"]
    assert refresh["status"] == "warn"
    assert refresh["message"].startswith(
        "a launch-first instance refresh at MaxHealthyPercentage 150 (--max-healthy-percent)"
    )
    assert refresh["details"] == [ADVICE_150.format(az=AZ_A), ADVICE_150.format(az=AZ_C)]
    assert "update-auto-scaling-group" not in refresh["fix"]  # the group has no policy
    assert "start-instance-refresh --auto-scaling-group-name web-asg" in refresh["fix"]


def test_a_pool_short_even_for_terminate_first_fails(aws, run: Run) -> None:
    """3 addresses in 1a for the 3 instances max size puts there, one of them kept by an
    instance in no group: no refresh order fits."""
    deploy(aws, per_az=3)
    ec2 = aws.client("ec2")
    stray = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=aws.client("autoscaling")
        .describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0][
            "VPCZoneIdentifier"
        ]
        .split(",")[0],
    )["Instances"][0]["InstanceId"]
    free = _free_enis(aws, AZ_A)
    ec2.attach_network_interface(NetworkInterfaceId=free[0], InstanceId=stray, DeviceIndex=1)
    code, checks = doctor(run, "--max-healthy-percent", "150")
    refresh = checks["refresh"]
    assert refresh["status"] == "fail" and code == EXIT_FAILED
    assert refresh["message"] == (
        "pool web-asg cannot carry even a terminate-first instance refresh: "
        "ap-northeast-1a: 2 for up to 3, ap-northeast-1c: 3 for up to 3"
    )
    assert refresh["fix"] == (
        "add addresses (1 in ap-northeast-1a) to the pool spec and run `fixed-ip pool apply SPEC`"
    )


def _free_enis(aws: Any, az: str) -> list[str]:
    return sorted(
        e["NetworkInterfaceId"]
        for e in aws.client("ec2").describe_network_interfaces(
            Filters=[
                {"Name": "tag:fixed-ip:pool", "Values": [GROUP]},
                {"Name": "availability-zone", "Values": [az]},
                {"Name": "status", "Values": ["available"]},
            ]
        )["NetworkInterfaces"]
    )


# ---------------------------------------------------------------------- held outside


def _holders(aws: Any) -> dict[str, tuple[str, str]]:
    """instance id -> (ENI, IP) of the pool's held ENIs."""
    return {
        e["Attachment"]["InstanceId"]: (e["NetworkInterfaceId"], e["PrivateIpAddress"])
        for e in aws.client("ec2").describe_network_interfaces(
            Filters=[{"Name": "tag:fixed-ip:pool", "Values": [GROUP]}]
        )["NetworkInterfaces"]
        if e.get("Attachment", {}).get("DeviceIndex") == 1
    }


@pytest.fixture
def healthy(aws) -> Deployed:
    return deploy(aws)


def test_an_instance_detached_from_the_group_is_reported(healthy: Deployed, run: Run) -> None:
    aws = healthy.aws
    code, checks = doctor(run)
    assert checks["held-outside"]["status"] == "pass"
    assert checks["held-outside"]["message"] == (
        "no ENI of pool web-asg is held by an instance outside every Auto Scaling group"
    )
    iid, (eni, ip) = sorted(_holders(aws).items())[0]
    aws.client("autoscaling").detach_instances(
        InstanceIds=[iid], AutoScalingGroupName=GROUP, ShouldDecrementDesiredCapacity=True
    )
    code, checks = doctor(run)
    held = checks["held-outside"]
    assert held["status"] == "warn" and code == EXIT_OK
    assert held["message"] == (
        f"1 ENI(s) of pool web-asg held by instances in no Auto Scaling group (detached?): "
        f"{iid} holds {eni} ({ip}): the pool lost these addresses"
    )
    host_name = healthy.world.enis[eni]
    az = AZ_A if ip.startswith("10.0.0.") else AZ_C
    assert held["details"] == [f"{iid} (running, {az}) holds {eni} ({ip}, {host_name})"]
    assert held["fix"] == (
        f"give each address back: terminate the instance (aws ec2 terminate-instances "
        f"--instance-ids {iid}), or attach it back to the group (aws autoscaling "
        f"attach-instances --auto-scaling-group-name web-asg --instance-ids {iid})"
    )
    # a stopped instance keeps its address too: still reported
    aws.client("ec2").stop_instances(InstanceIds=[iid])
    _, checks = doctor(run)
    assert checks["held-outside"]["details"] == [
        f"{iid} (stopped, {az}) holds {eni} ({ip}, {host_name})"
    ]


def test_a_holder_in_another_group_or_terminated_is_not_reported(
    healthy: Deployed, run: Run
) -> None:
    """Another group sharing the pool uses its addresses as it should; a terminated
    holder's ENI is the sweeper's to give back."""
    aws = healthy.aws
    autoscaling = aws.client("autoscaling")
    (first, _), (second, _) = sorted(_holders(aws).items())
    autoscaling.detach_instances(
        InstanceIds=[first, second],
        AutoScalingGroupName=GROUP,
        ShouldDecrementDesiredCapacity=True,
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="db-asg",
        LaunchTemplate={"LaunchTemplateName": f"{GROUP}-lt", "Version": "$Latest"},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=0,
        VPCZoneIdentifier=",".join(healthy.world.subnets.values()),
    )
    autoscaling.attach_instances(AutoScalingGroupName="db-asg", InstanceIds=[first])
    _, checks = doctor(run)
    assert [d.split(" ")[0] for d in checks["held-outside"]["details"]] == [second]
    aws.client("ec2").terminate_instances(InstanceIds=[second])
    _, checks = doctor(run)
    assert checks["held-outside"]["status"] == "pass", checks["held-outside"]


# -------------------------------------------------------------- wait bound, sweeper


def _env(d: Deployed, **changes: str | None) -> None:
    lam = d.aws.client("lambda")
    function = d.controller.function
    env = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": env})


def _schedule(d: Deployed, expression: str | None = None, *, enabled: bool = True) -> None:
    events = d.aws.client("events")
    rule = d.controller.rules["SweeperFunction"]
    if expression:
        events.put_rule(Name=rule, ScheduleExpression=expression)
    if not enabled:
        events.disable_rule(Name=rule)


def test_the_healthy_deployment_s_wait_and_sweeper(healthy: Deployed, run: Run) -> None:
    _, checks = doctor(run)
    assert checks["wait-bound"]["message"] == (
        "policy WAIT: WaitForAddressSeconds 3600 s is below Auto Scaling's limit for a "
        "lifecycle action (48 h or 100 x HeartbeatTimeout): fixed-ip-launch 90000 s"
    )
    assert checks["sweeper"]["message"] == (
        "fixed-ip-SweeperFunction runs every 300 s (fixed-ip-SweeperFunctionSweep "
        "(rate(5 minutes), ENABLED)), more often than the launch hook's HeartbeatTimeout "
        "(fixed-ip-launch 900 s): instances waiting for an address keep their hook alive"
    )


def test_a_wait_bound_beyond_100_heartbeat_timeouts_warns(healthy: Deployed, run: Run) -> None:
    _env(healthy, FIXED_IP_WAIT_FOR_ADDRESS_SECONDS="90000")
    code, checks = doctor(run)
    bound = checks["wait-bound"]
    assert bound["status"] == "warn" and code == EXIT_OK
    assert bound["details"] == [
        "fixed-ip-launch: WaitForAddressSeconds 90000 s is not below Auto Scaling's limit of "
        "90000 s (the shorter of 48 h and 100 x HeartbeatTimeout 900 s): Auto Scaling ends "
        "the wait first, with the hook's DefaultResult, and without the controller's "
        "pool_exhausted log line and metric"
    ]
    assert bound["fix"] == (
        "lower WaitForAddressSeconds below 90000 s (sam deploy --parameter-overrides "
        "WaitForAddressSeconds=89940), or raise the launch hook's HeartbeatTimeout to 901 s "
        "or more (stack parameter HookHeartbeatTimeout, or aws autoscaling "
        "put-lifecycle-hook ... --heartbeat-timeout 901)"
    )
    _env(healthy, FIXED_IP_WAIT_FOR_ADDRESS_SECONDS="89999")
    _, checks = doctor(run)
    assert checks["wait-bound"]["status"] == "pass"


def test_48_hours_is_the_limit_whatever_the_heartbeat(healthy: Deployed, run: Run) -> None:
    healthy.aws.client("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=GROUP, LifecycleHookName="fixed-ip-launch", HeartbeatTimeout=7200
    )
    _env(healthy, FIXED_IP_WAIT_FOR_ADDRESS_SECONDS="172800")
    _, checks = doctor(run)
    bound = checks["wait-bound"]
    assert bound["status"] == "warn"
    assert "limit of 172800 s" in bound["details"][0]
    # raising the heartbeat cannot help: only a lower bound does
    assert bound["fix"] == (
        "lower WaitForAddressSeconds below 172800 s (sam deploy --parameter-overrides "
        "WaitForAddressSeconds=172740)"
    )


def test_abandon_policy_needs_no_bound_nor_a_frequent_sweeper(healthy: Deployed, run: Run) -> None:
    _env(healthy, FIXED_IP_ON_POOL_EXHAUSTED="ABANDON", FIXED_IP_WAIT_FOR_ADDRESS_SECONDS="172800")
    _schedule(healthy, "rate(1 hour)")
    code, checks = doctor(run)
    assert checks["wait-bound"]["status"] == "pass"
    assert checks["wait-bound"]["message"] == (
        "policy ABANDON on fixed-ip-launch: no instance waits for an address"
    )
    assert checks["sweeper"]["status"] == "pass"
    assert code == EXIT_OK
    # the hook's own metadata overrides the function's policy
    healthy.aws.client("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=GROUP,
        LifecycleHookName="fixed-ip-launch",
        NotificationMetadata='{"on_exhausted": "WAIT"}',
    )
    code, checks = doctor(run)
    assert checks["wait-bound"]["status"] == "warn"
    assert checks["sweeper"]["status"] == "fail" and code == EXIT_FAILED


def test_a_sweeper_slower_than_the_heartbeat_timeout_fails(healthy: Deployed, run: Run) -> None:
    _schedule(healthy, "rate(15 minutes)")
    code, checks = doctor(run)
    sweeper = checks["sweeper"]
    assert sweeper["status"] == "fail" and code == EXIT_FAILED
    assert sweeper["message"] == (
        "fixed-ip-SweeperFunction runs every 900 s (fixed-ip-SweeperFunctionSweep "
        "(rate(15 minutes), ENABLED)), not more often than the launch hook's HeartbeatTimeout "
        "(fixed-ip-launch 900 s): with policy WAIT, an instance waiting for an address gets "
        "its heartbeat from the sweeper, and its hook times out (ABANDON) between passes"
    )
    assert sweeper["fix"] == (
        "run the sweeper more often: sam deploy --parameter-overrides "
        "SweepSchedule='rate(7 minutes)', or raise the launch hook's HeartbeatTimeout (stack "
        "parameter HookHeartbeatTimeout) above 900 s"
    )
    _schedule(healthy, "rate(14 minutes)")
    _, checks = doctor(run)
    assert checks["sweeper"]["status"] == "pass"


def test_a_disabled_sweeper_schedule_fails_under_wait(healthy: Deployed, run: Run) -> None:
    _schedule(healthy, enabled=False)
    code, checks = doctor(run)
    sweeper = checks["sweeper"]
    assert sweeper["status"] == "fail" and code == EXIT_FAILED
    assert sweeper["message"] == (
        "no enabled schedule runs sweeper fixed-ip-SweeperFunction (schedules: "
        "fixed-ip-SweeperFunctionSweep (rate(5 minutes), DISABLED)): instances waiting for an "
        "address get no heartbeat and are abandoned when their hook times out"
    )
    assert sweeper["fix"] == "aws events enable-rule --name fixed-ip-SweeperFunctionSweep"
    _env(healthy, FIXED_IP_ON_POOL_EXHAUSTED="ABANDON")
    _, checks = doctor(run)
    assert checks["sweeper"]["status"] == "warn"


def test_a_cron_schedule_is_not_guessed(healthy: Deployed, run: Run) -> None:
    _schedule(healthy, "cron(0/5 * * * ? *)")
    _, checks = doctor(run)
    assert checks["sweeper"]["status"] == "skip"
    assert "doctor does not compute a cron schedule's interval" in checks["sweeper"]["message"]


def test_the_sweeper_unknown_or_gone(healthy: Deployed, run: Run) -> None:
    functions = healthy.controller.functions
    healthy.aws.client("lambda").delete_function(FunctionName=functions["SweeperFunction"])
    code, checks = doctor(run)
    assert checks["sweeper"]["status"] == "fail" and code == EXIT_FAILED
    assert checks["sweeper"]["message"].startswith(
        "sweeper function fixed-ip-SweeperFunction not found in ap-northeast-1"
    )
    healthy.aws.client("cloudformation").delete_stack(StackName="fixed-ip")
    _, checks = doctor(
        run,
        "--function",
        functions["LaunchFunction"],
        "--terminate-function",
        functions["TerminateFunction"],
    )
    assert checks["sweeper"]["status"] == "skip"
    assert "--sweeper-function NAME" in checks["sweeper"]["message"]


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(5 minutes)", 300),
        ("rate(1 minute)", 60),
        ("rate(1 hour)", 3600),
        ("rate(2 days)", 172800),
        ("cron(0/5 * * * ? *)", None),
        ("rate(five minutes)", None),
    ],
)
def test_schedule_seconds(expression: str, seconds: int | None) -> None:
    assert schedule_seconds(expression) == seconds


# ------------------------------------------------------------------- terminate hook


def test_the_terminate_hook_needs_to_outlast_the_release_only(healthy: Deployed, run: Run) -> None:
    """The terminate function completes CONTINUE once the ENI is released (its wait,
    FIXED_IP_RELEASE_WAIT_SECONDS, 60 s by default) and only then serves an instance
    waiting for the address: a 300 s hook is enough for a function of 420 s (template.yaml
    gives it FunctionTimeoutSeconds)."""
    lam = healthy.aws.client("lambda")
    terminate = healthy.controller.functions["TerminateFunction"]
    lam.update_function_configuration(FunctionName=terminate, Timeout=420)
    _, checks = doctor(run)
    assert checks["terminate-hook"]["status"] == "pass", checks["terminate-hook"]
    healthy.aws.client("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=GROUP, LifecycleHookName="fixed-ip-terminate", HeartbeatTimeout=60
    )
    _, checks = doctor(run)
    hook = checks["terminate-hook"]
    assert hook["status"] == "warn"
    assert hook["details"] == [
        "fixed-ip-terminate: HeartbeatTimeout 60 s is not above the 60 s the terminate "
        "function may wait for the ENI to be released before it completes the action "
        "(FIXED_IP_RELEASE_WAIT_SECONDS, within its timeout): the hook may end before the "
        "ENI is given back"
    ]
