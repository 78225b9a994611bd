"""The bad-input corpus, world-state half (the event half is events/invalid/, checked by
tests/unit/test_inputs.py and tests/integration/test_launch_function.py): hostile or
invalid host-name tags, ENIs of another VPC or AZ tagged into the pool, an unknown pool
in the hook's metadata, a taken device index, an instance of another group, a group name
that cannot name a pool. Each is refused with one clear, specific log line, and nothing
in AWS changes: no ENI attached, no tag written, no command sent. The only call that
mutates is the lifecycle action's own ABANDON, where one is due."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fixed_ip_local import moto_patches
from fixed_ip_local.metering import metered
from fixed_ip_local.world import HOOK_NAME, HOSTNAME_TAG, World, build_world, create_pool_eni
from tests.faults.checks import pool_problems
from tests.helpers import load_event

ABANDON_ONLY = {"autoscaling:CompleteLifecycleAction": 1}


def snapshot(aws: Any) -> tuple:
    """Everything the controller could change: every ENI (status, holder, device index,
    tags), every tag in EC2, every SSM command sent."""
    ec2 = aws.client("ec2")
    enis = sorted(
        (
            e["NetworkInterfaceId"],
            e["Status"],
            str((e.get("Attachment") or {}).get("InstanceId")),
            str((e.get("Attachment") or {}).get("DeviceIndex")),
            tuple(sorted((t["Key"], t["Value"]) for t in e.get("TagSet", []))),
        )
        for e in ec2.describe_network_interfaces()["NetworkInterfaces"]
    )
    tags = sorted((t["ResourceId"], t["Key"], t["Value"]) for t in ec2.describe_tags()["Tags"])
    commands = aws.client("ssm").list_commands()["Commands"]
    return enis, tags, len(commands)


def invoke_changing_nothing(
    aws: Any, runner: Any, event: dict[str, Any], mutating: dict[str, int] = ABANDON_ONLY
) -> dict[str, Any]:
    """Invoke the controller once on bad input and assert that it changed nothing: no
    mutating AWS call but `mutating` (by default the ABANDON itself), and every ENI, tag
    and command as it was. Returns the invocation's result."""
    before = snapshot(aws)
    with metered() as meter:
        result = runner.invoke(event)
    assert meter.mutating() == mutating
    assert snapshot(aws) == before
    return result


def launch_one(aws: Any, events: list, world: World) -> dict[str, Any]:
    aws.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=world.group, DesiredCapacity=1
    )
    [event] = events
    return event


def retag_only_eni(value: str | None) -> Callable[[Any, World], None]:
    def change(aws: Any, world: World) -> None:
        ec2 = aws.client("ec2")
        [eni_id] = world.enis
        if value is None:
            ec2.delete_tags(Resources=[eni_id], Tags=[{"Key": HOSTNAME_TAG}])
        else:
            ec2.create_tags(Resources=[eni_id], Tags=[{"Key": HOSTNAME_TAG, "Value": value}])

    return change


@dataclass(frozen=True)
class HostileTag:
    value: str | None
    says: str  # what the refusal line's detail must say

    def __str__(self) -> str:
        return repr(self.value)[:24]


HOSTILE_TAGS = [
    HostileTag("a;reboot", "invalid label 'a;reboot'"),
    HostileTag("$(id)", "invalid label '$(id)'"),
    HostileTag("`uname -a`", "invalid label '`uname -a`'"),
    HostileTag("|cat /etc/shadow", "invalid label"),
    HostileTag("a" * 300, "300 characters long"),
    HostileTag("", "host name is empty"),
    HostileTag("-leading-hyphen", "invalid label '-leading-hyphen'"),
    HostileTag("trailing-", "invalid label 'trailing-'"),
    HostileTag("a..b", "invalid label ''"),
    HostileTag("web 01", "invalid label 'web 01'"),
    HostileTag("host_name", "invalid label 'host_name'"),
    HostileTag("new\nline", "invalid label"),
    HostileTag("ünïcode", "invalid label 'ünïcode'"),
    HostileTag("x" * 64, "invalid label"),
]


@pytest.mark.parametrize("tag", HOSTILE_TAGS, ids=str)
def test_hostile_host_name_tag_is_refused_and_changes_nothing(aws, events, make_runner, tag):
    world = build_world(aws, per_az=1, azs=1)
    retag_only_eni(tag.value)(aws, world)
    event = launch_one(aws, events, world)
    iid = event["detail"]["EC2InstanceId"]
    # The stack's policy ABANDON: the instance is refused at once (WAIT would keep it).
    runner = make_runner(OnPoolExhausted="ABANDON")
    result = invoke_changing_nothing(aws, runner, event)
    assert (result["result"], result["reason"]) == ("ABANDON", "pool_exhausted")
    [refused] = runner.logs.decisions("eni_refused")
    [eni_id] = world.enis
    assert (refused["reason"], refused["eni_id"], refused["instance_id"]) == (
        "invalid_host_name",
        eni_id,
        iid,
    )
    assert tag.says in refused["detail"]
    assert moto_patches.os_hostname(iid) is None
    assert pool_problems(aws, world.group, world.pool) == []


def test_hostile_tag_next_to_a_good_eni_is_skipped_and_the_good_one_used(aws, events, make_runner):
    world = build_world(aws, per_az=2, azs=1)
    bad_eni, good_eni = sorted(world.enis, key=lambda e: world.enis[e])  # server-a1, a2
    aws.client("ec2").create_tags(
        Resources=[bad_eni], Tags=[{"Key": HOSTNAME_TAG, "Value": "$(reboot)"}]
    )
    event = launch_one(aws, events, world)
    runner = make_runner()
    result = runner.invoke(event)
    assert (result["result"], result["eni_id"], result["host_name"]) == (
        "CONTINUE",
        good_eni,
        "server-a2",
    )
    [refused] = runner.logs.decisions("eni_refused")
    assert refused["eni_id"] == bad_eni and "invalid label '$(reboot)'" in refused["detail"]
    assert pool_problems(aws, world.group, world.pool) == []


# --- Pool membership and configuration --------------------------------------------------


def _only_eni_in_another_vpc(aws: Any, world: World) -> str:
    ec2 = aws.client("ec2")
    [eni_id] = world.enis
    ec2.delete_tags(Resources=[eni_id], Tags=[{"Key": "fixed-ip:pool"}])
    az = next(iter(world.subnets))
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24", AvailabilityZone=az)
    create_pool_eni(ec2, subnet["Subnet"]["SubnetId"], "10.9.0.4", "server-x1", world.pool)
    return f"has no ENI in {az} (VPC {world.vpc_id})"


def _only_eni_in_another_az(aws: Any, world: World) -> str:
    ec2 = aws.client("ec2")
    [eni_id] = world.enis
    ec2.delete_tags(Resources=[eni_id], Tags=[{"Key": "fixed-ip:pool"}])
    subnet = ec2.create_subnet(
        VpcId=world.vpc_id, CidrBlock="10.0.9.0/24", AvailabilityZone="ap-northeast-1c"
    )
    create_pool_eni(ec2, subnet["Subnet"]["SubnetId"], "10.0.9.4", "server-c1", world.pool)
    return "has no ENI in ap-northeast-1a"


def _pool_tag_in_another_case(aws: Any, world: World) -> str:
    [eni_id] = world.enis
    aws.client("ec2").create_tags(
        Resources=[eni_id], Tags=[{"Key": "fixed-ip:pool", "Value": world.pool.upper()}]
    )
    return f"pool {world.pool!r} has no ENI in ap-northeast-1a"


def _unknown_pool_in_metadata(aws: Any, world: World) -> str:
    aws.client("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=world.group,
        LifecycleHookName=HOOK_NAME,
        NotificationMetadata=json.dumps({"pool": "no-such-pool"}),
    )
    return "pool 'no-such-pool' has no ENI in ap-northeast-1a"


WRONG_POOLS = {
    "pool ENI of another VPC": _only_eni_in_another_vpc,
    "pool ENI of another AZ": _only_eni_in_another_az,
    "pool tag value in another case": _pool_tag_in_another_case,
    "unknown pool in the hook metadata": _unknown_pool_in_metadata,
}


@pytest.mark.parametrize("case", WRONG_POOLS)
def test_no_usable_pool_eni_in_the_instance_az_and_vpc(aws, events, make_runner, case):
    world = build_world(aws, per_az=1, azs=1)
    says = WRONG_POOLS[case](aws, world)
    event = launch_one(aws, events, world)
    runner = make_runner()
    result = invoke_changing_nothing(aws, runner, event)
    assert (result["result"], result["reason"]) == ("ABANDON", "pool_not_in_az")
    assert says in result["detail"] and "tag ENIs with fixed-ip:pool=" in result["detail"]
    [final] = runner.logs.decisions("lifecycle_completed")
    assert final["level"] == "WARNING" and final["detail"] == result["detail"]
    assert pool_problems(aws, world.group, world.pool) == []


def test_device_index_taken_by_a_non_pool_interface(aws, events, make_runner):
    world = build_world(aws, per_az=1, azs=1)
    event = launch_one(aws, events, world)
    iid = event["detail"]["EC2InstanceId"]
    ec2 = aws.client("ec2")
    stranger = ec2.create_network_interface(SubnetId=next(iter(world.subnets.values())))
    stranger_id = stranger["NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=stranger_id, InstanceId=iid, DeviceIndex=1)
    runner = make_runner()
    before = snapshot(aws)
    with metered() as meter:
        result = runner.invoke(event)
    assert (result["result"], result["reason"]) == ("ABANDON", "device_index_occupied")
    assert f"holds {stranger_id}, which is not in pool" in result["detail"]
    assert meter.mutating() == ABANDON_ONLY
    assert snapshot(aws)[1:] == before[1:]  # tags and commands; the ENIs below
    assert [e for e in snapshot(aws)[0] if e[0] in world.enis] == [
        e for e in before[0] if e[0] in world.enis
    ]


def test_event_naming_another_group_for_a_real_instance(aws, events, make_runner):
    """Invariant 5: an event that names group B for an instance of group A is refused
    after one read; neither the instance nor any ENI is touched."""
    world = build_world(aws, per_az=1, azs=1)
    event = copy.deepcopy(launch_one(aws, events, world))
    event["detail"]["AutoScalingGroupName"] = "someone-elses-asg"
    runner = make_runner()
    result = invoke_changing_nothing(aws, runner, event, mutating={})
    assert (result["result"], result["reason"]) == ("REFUSED", "invalid_event")
    assert f"belongs to group {world.group!r}, not 'someone-elses-asg'" in result["detail"]
    [line] = runner.logs.decisions("event_refused")
    assert line["level"] == "ERROR"
    assert moto_patches.lifecycle_actions()[0]["state"] == "active"


def test_event_for_an_instance_ec2_does_not_know(aws, events, make_runner):
    """The sample event's instance does not exist here (and the event is hours old):
    ABANDON instance_gone, and AWS answers that no such action is active."""
    build_world(aws, per_az=1, azs=1)
    runner = make_runner()
    result = invoke_changing_nothing(aws, runner, load_event("launch.json"))
    assert (result["decision"], result["reason"]) == ("lifecycle_not_active", "instance_gone")
    assert "i-1234567890abcdef0" in result["detail"]


def test_group_name_that_cannot_name_a_pool(aws, events, make_runner):
    world = build_world(aws, group="web(asg)", pool="web-pool", per_az=1, azs=1)
    event = launch_one(aws, events, world)
    runner = make_runner()
    result = invoke_changing_nothing(aws, runner, event)
    assert (result["result"], result["reason"]) == ("ABANDON", "invalid_metadata")
    assert "cannot be a pool name" in result["detail"]
