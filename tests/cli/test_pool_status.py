"""`fixed-ip pool status` on moto: holders, lifecycle states and totals per AZ."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fixed_ip_cli.errors import EXIT_NOT_FOUND, EXIT_OK
from fixed_ip_local.world import World, build_world, create_pool_eni
from tests.cli.conftest import Run
from tests.cli.deployment import complete_launches


@pytest.fixture
def world(aws) -> World:
    """The seed world (pool web-asg, 3 ENIs per AZ) with 2 instances holding pool ENIs and a
    third waiting in Pending:Wait."""
    world = build_world(aws, per_az=3, azs=2)
    autoscaling = aws.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName=world.group, DesiredCapacity=2)
    complete_launches(aws, world.group)
    autoscaling.set_desired_capacity(AutoScalingGroupName=world.group, DesiredCapacity=3)
    return world


def holders(aws: Any, group: str) -> dict[str, str]:
    """instance id -> lifecycle state."""
    (g,) = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ]
    return {i["InstanceId"]: i["LifecycleState"] for i in g["Instances"]}


def test_json_lists_holders_and_totals_per_az(aws, world: World, run: Run) -> None:
    result = run("pool", "status", "--output", "json")
    assert result.code == EXIT_OK, result.err
    (pool,) = json.loads(result.out)["pools"]
    assert pool["pool"] == "web-asg"
    by_az = {az["az"]: az for az in pool["azs"]}
    assert sorted(by_az) == ["ap-northeast-1a", "ap-northeast-1c"]
    states = holders(aws, world.group)
    for az in by_az.values():
        assert (az["total"], az["in_use"], az["free"], az["invalid_host_name"]) == (3, 1, 2, 0)
        first, *rest = az["enis"]  # sorted by address: the controller's first pick is held
        assert first["ip"].endswith(".4") and first["state"] == "in-use"
        assert states[first["instance_id"]] == "InService" == first["lifecycle_state"]
        assert first["group"] == world.group
        assert first["attached_since"] and first["device_index"] == 1
        assert all(r["instance_id"] is None and r["state"] == "available" for r in rest)
        assert first["host_name"] in {"server-a1", "server-c1"}


def test_text_table_per_pool_and_az(aws, world: World, run: Run) -> None:
    result = run("pool", "status")
    assert result.code == EXIT_OK, result.err
    lines = result.out.splitlines()
    assert lines[0] == "pool web-asg: 6 ENIs, 2 in use, 4 free"
    assert "  ap-northeast-1a: 1 in use, 2 free" in lines
    assert "  ap-northeast-1c: 1 in use, 2 free" in lines
    header = next(line for line in lines if "HOST NAME" in line).split()
    assert header == [
        "IP",
        "HOST",
        "NAME",
        "STATE",
        "INSTANCE",
        "LIFECYCLE",
        "GROUP",
        "SINCE",
        "ENI",
    ]
    a1 = next(line for line in lines if "server-a1" in line).split()
    assert a1[:3] == ["10.0.0.4", "server-a1", "in-use"]
    assert a1[3].startswith("i-") and a1[4:6] == ["InService", world.group]
    assert "UTC" in a1 and a1[-1].startswith("eni-")
    a2 = next(line for line in lines if "server-a2" in line).split()
    assert a2[2:7] == ["available", "-", "-", "-", "-"]


def test_pool_filter_and_other_pools(aws, world: World, run: Run) -> None:
    ec2 = aws.client("ec2")
    create_pool_eni(ec2, world.subnets["ap-northeast-1a"], "10.0.0.20", "db-1", "db")
    everything = json.loads(run("pool", "status", "-o", "json").out)
    assert [p["pool"] for p in everything["pools"]] == ["db", "web-asg"]
    only = json.loads(run("pool", "status", "--pool", "db", "-o", "json").out)
    ((db_az,),) = [p["azs"] for p in only["pools"]]
    assert (db_az["az"], db_az["total"], db_az["free"]) == ("ap-northeast-1a", 1, 1)


def test_an_unknown_pool_exits_4_naming_the_pools_there(aws, world: World, run: Run) -> None:
    none = run("pool", "status", "--pool", "nothing")
    assert none.code == EXIT_NOT_FOUND
    assert none.out == ""
    assert none.err == (
        "error: no ENI of pool nothing in ap-northeast-1 (pools there: web-asg): check --pool "
        "and --region, or create it with `fixed-ip pool apply SPEC.yaml`\n"
    )
    as_json = run("pool", "status", "--pool", "nothing", "-o", "json")
    assert as_json.code == EXIT_NOT_FOUND
    error = json.loads(as_json.out)["error"]
    assert (error["type"], error["exit_code"]) == ("NotFound", EXIT_NOT_FOUND)
    assert error["message"].startswith("no ENI of pool nothing in ap-northeast-1")


def test_no_pool_at_all_is_not_an_error(aws, run: Run) -> None:
    result = run("pool", "status")
    assert result.code == EXIT_OK
    assert result.out.startswith("no ENI of any pool in ap-northeast-1")


def test_an_instance_outside_any_group_and_an_invalid_host_name(aws, run: Run) -> None:
    world = build_world(aws, per_az=1, azs=1, hook=False)
    ec2 = aws.client("ec2")
    bad = create_pool_eni(ec2, world.subnets["ap-northeast-1a"], "10.0.0.30", "a;reboot", "web-asg")
    (eni_id,) = [e for e, h in world.enis.items() if h == "server-a1"]
    other = ec2.create_subnet(
        VpcId=world.vpc_id, CidrBlock="10.0.9.0/24", AvailabilityZone="ap-northeast-1a"
    )["Subnet"]["SubnetId"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=other)[
        "Instances"
    ][0]["InstanceId"]
    ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=instance, DeviceIndex=1)

    (pool,) = json.loads(run("pool", "status", "-o", "json").out)["pools"]
    (az,) = pool["azs"]
    assert (az["total"], az["in_use"], az["free"], az["invalid_host_name"]) == (2, 1, 0, 1)
    rows = {r["eni_id"]: r for r in az["enis"]}
    assert rows[eni_id]["lifecycle_state"] == "running (no group)"
    assert rows[eni_id]["group"] is None
    assert rows[bad]["host_name_valid"] is False

    text = run("pool", "status").out
    assert "1 in use, 0 free, 1 refused (invalid host name)" in text
    assert "'a;reboot' INVALID" in text


def test_the_library_s_rules_an_eni_without_host_name_is_free_a_primary_is_left_out(
    aws, run: Run
) -> None:
    """The host-name tag is optional (the controller serves the address without one), and a
    pool tag on an instance's primary interface does not make it a fixed address: status
    counts as `fixed_ip.capacity` does."""
    world = build_world(aws, per_az=1, azs=1, hook=False)
    ec2 = aws.client("ec2")
    subnet = world.subnets["ap-northeast-1a"]
    bare = ec2.create_network_interface(
        SubnetId=subnet,
        PrivateIpAddress="10.0.0.40",
        TagSpecifications=[
            {
                "ResourceType": "network-interface",
                "Tags": [{"Key": "fixed-ip:pool", "Value": world.pool}],
            }
        ],
    )["NetworkInterface"]["NetworkInterfaceId"]
    other = ec2.create_subnet(
        VpcId=world.vpc_id, CidrBlock="10.0.9.0/24", AvailabilityZone="ap-northeast-1a"
    )["Subnet"]["SubnetId"]
    (instance,) = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=other)[
        "Instances"
    ]
    primary = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.create_tags(Resources=[primary], Tags=[{"Key": "fixed-ip:pool", "Value": world.pool}])

    (pool,) = json.loads(run("pool", "status", "-o", "json").out)["pools"]
    (az,) = pool["azs"]
    rows = {r["eni_id"]: r for r in az["enis"]}
    assert primary not in rows
    assert rows[bare]["host_name"] is None and rows[bare]["host_name_valid"] is True
    assert (az["total"], az["in_use"], az["free"], az["invalid_host_name"]) == (2, 0, 2, 0)
