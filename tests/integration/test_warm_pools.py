"""Warm pools end to end in the simulation: an instance enters the warm pool (completed at
once, no address), is stopped, leaves it for the group and claims its ENI; a lost event in
either state is repaired by the sweeper; a terminate from the warm pool releases nothing.
Event shapes as AWS documents them ("Warm pool example events and patterns": Origin and
Destination are EC2 | AutoScalingGroup | WarmPool)."""

from __future__ import annotations

import pytest

from fixed_ip_local.invariants import pool_enis
from fixed_ip_local.moto_patches import warm_pools
from fixed_ip_local.simulation import Simulation
from fixed_ip_local.world import build_world


@pytest.fixture
def warm(aws):
    world = build_world(aws, per_az=2, azs=1, max_size=3, terminate_hook=True)
    aws.client("autoscaling").put_warm_pool(AutoScalingGroupName=world.group, MinSize=1)
    sim = Simulation(aws, world, agent_online_after=0.0, replacement_backoff=0.0)
    warm_pools.apply()
    yield aws, world, sim
    sim.close()


def held(aws, pool: str) -> dict[str, str]:
    return {
        e["Attachment"]["InstanceId"]: e["PrivateIpAddress"]
        for e in pool_enis(aws.client("ec2"), pool)
        if e.get("Attachment", {}).get("InstanceId")
    }


def ec2_state(aws, iid: str) -> str:
    [r] = aws.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"]
    return r["Instances"][0]["State"]["Name"]


def route(sim: Simulation, iid: str) -> list[tuple[str, str, str]]:
    return [
        (e["detail-type"], e["detail"]["Origin"], e["detail"]["Destination"])
        for e in sim.events
        if e["detail"]["EC2InstanceId"] == iid
    ]


def settle(sim: Simulation) -> None:
    sim.settle(sim._desired(), period=0)


def finals(sim: Simulation, iid: str, function: str = "LaunchFunction") -> list[dict]:
    return [
        r
        for r in sim.logs.records
        if r.get("function_name") == function
        and r.get("instance_id") == iid
        and r.get("decision") in {"lifecycle_completed", "lifecycle_not_active"}
    ]


def into_warm_pool(aws, world, sim) -> str:
    [iid] = warm_pools.launch_into(world.region, world.group, 1)
    settle(sim)
    return iid


def test_entering_the_warm_pool_completes_at_once_without_an_address(warm):
    aws, world, sim = warm
    iid = into_warm_pool(aws, world, sim)
    assert route(sim, iid) == [("EC2 Instance-launch Lifecycle Action", "EC2", "WarmPool")]
    [final] = finals(sim, iid)
    assert (final["result"], final["reason"]) == ("CONTINUE", "warm_pool")
    assert warm_pools.states(world.region, world.group) == {iid: "Warmed:Stopped"}
    assert ec2_state(aws, iid) == "stopped" and held(aws, world.pool) == {}
    # Listed by DescribeWarmPool, not among the group's instances.
    assert [r.instance_id for r in sim.rows()] == []


def test_leaving_the_warm_pool_for_the_group_claims_the_eni(warm):
    aws, world, sim = warm
    iid = into_warm_pool(aws, world, sim)
    warm_pools.leave(world.region, world.group, iid)
    settle(sim)
    assert route(sim, iid)[-1] == (
        "EC2 Instance-launch Lifecycle Action",
        "WarmPool",
        "AutoScalingGroup",
    )
    [row] = sim.rows()
    assert (row.instance_id, row.state, row.ip) == (iid, "InService", "10.0.0.4")
    assert held(aws, world.pool) == {iid: "10.0.0.4"}


def test_a_lost_event_entering_the_warm_pool_is_repaired_by_the_sweeper(warm):
    aws, world, sim = warm
    sim.drop_next_events(1)
    iid = into_warm_pool(aws, world, sim)
    assert warm_pools.states(world.region, world.group) == {iid: "Warmed:Pending:Wait"}
    result = sim.sweep()
    assert result["lost_launches_finished"] == 1
    assert warm_pools.states(world.region, world.group) == {iid: "Warmed:Stopped"}
    assert held(aws, world.pool) == {}  # no address in the warm pool


def test_a_lost_event_leaving_the_warm_pool_is_repaired_by_the_sweeper(warm):
    aws, world, sim = warm
    iid = into_warm_pool(aws, world, sim)
    sim.drop_next_events(1)
    warm_pools.leave(world.region, world.group, iid)
    settle(sim)
    assert [r.state for r in sim.rows()] == ["Pending:Wait"]
    assert sim.sweep()["lost_launches_finished"] == 1
    [row] = sim.rows()
    assert (row.state, row.ip) == ("InService", "10.0.0.4")


def test_a_terminate_from_the_warm_pool_releases_nothing(warm):
    aws, world, sim = warm
    sim.scale(1)  # a group member holds 10.0.0.4
    before = held(aws, world.pool)
    iid = into_warm_pool(aws, world, sim)
    warm_pools.terminate(world.region, world.group, iid)
    settle(sim)
    assert route(sim, iid)[-1] == ("EC2 Instance-terminate Lifecycle Action", "WarmPool", "EC2")
    [final] = finals(sim, iid, "TerminateFunction")
    assert (final["result"], final["reason"]) == ("CONTINUE", "no_pool_eni")
    assert ec2_state(aws, iid) in {"shutting-down", "terminated"}
    assert held(aws, world.pool) == before
    assert not [
        r
        for r in sim.logs.records
        if r.get("function_name") == "TerminateFunction" and r.get("decision") == "eni_detached"
    ]
