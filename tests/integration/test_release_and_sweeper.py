"""TerminateFunction and SweeperFunction of template.yaml on moto with the fidelity
patches: release on termination, duplicates, the sweeper's repairs, capacity figures,
and the sweeper racing the controller."""

from __future__ import annotations

import threading

import pytest

from fixed_ip_local import moto_patches
from fixed_ip_local.events import scheduled_event
from fixed_ip_local.invariants import pool_enis
from fixed_ip_local.lambda_runner import FunctionRunner, TemplateFunction, collect_logs
from fixed_ip_local.metering import metered
from fixed_ip_local.simulation import Simulation
from fixed_ip_local.world import DOCUMENT_NAME, build_world, create_pool_eni
from tests.faults.checks import pool_problems
from tests.integration.test_launch_function import held, invoke_all, lifecycle_state, scale

NO_GRACE = {
    "FIXED_IP_LOST_LAUNCH_GRACE_SECONDS": "0",
    "FIXED_IP_LEAK_GRACE_SECONDS": "0",
    "FIXED_IP_AGENT_POLL_SECONDS": "0.2",
}


def function(name: str, **env: str) -> FunctionRunner:
    runner = FunctionRunner(
        TemplateFunction.from_template(name, resource_names={"ConfigureDocument": DOCUMENT_NAME}),
        extra_env=env,
    )
    runner.logs = collect_logs(runner)
    return runner


@pytest.fixture
def terminate(aws):
    return function("TerminateFunction")


@pytest.fixture
def sweeper(aws):
    return function("SweeperFunction", **NO_GRACE)


def test_terminate_releases_the_eni_and_a_duplicate_changes_nothing(aws, events, launch, terminate):
    world = build_world(aws, per_az=1, azs=1, terminate_hook=True)
    scale(aws, world.group, 1)
    launch.invoke(events[0])
    iid = events[0]["detail"]["EC2InstanceId"]
    [eni_id] = [e["NetworkInterfaceId"] for e in held(aws, world.pool)[iid]]
    scale(aws, world.group, 0)
    [_, end] = events
    assert end["detail-type"] == "EC2 Instance-terminate Lifecycle Action"
    assert lifecycle_state(aws, iid) == "Terminating:Wait"

    with metered() as first:
        result = terminate.invoke(end)

    assert result["decision"] == "lifecycle_completed" and result["eni_id"] == eni_id
    # Released by the function itself, before completing (moto, like EC2, would also
    # detach it once the instance terminates: that alone must not pass this test).
    assert first.mutating() == {
        "ec2:DetachNetworkInterface": 1,
        "autoscaling:CompleteLifecycleAction": 1,
    }
    # Nobody waits for the freed address: one look at the group, no hooks read.
    assert first.total == 5 and first.by_operation()["autoscaling:DescribeAutoScalingGroups"] == 1
    [eni] = pool_enis(aws.client("ec2"), world.pool)
    assert eni["Status"] == "available" and "Attachment" not in eni
    [action] = [a for a in moto_patches.lifecycle_actions() if a["hook"] == "fixed-ip-terminate"]
    assert (action["state"], action["result"]) == ("completed", "CONTINUE")
    with metered() as meter:
        again = terminate.invoke(end)
    assert again["decision"] == "lifecycle_not_active" and again["reason"] == "no_pool_eni"
    assert meter.mutating() == {"autoscaling:CompleteLifecycleAction": 1}
    assert pool_problems(aws, world.group, world.pool) == []


def test_sweeper_finishes_a_lost_launch(aws, events, sweeper):
    world = build_world(aws, per_az=1, azs=1)
    scale(aws, world.group, 1)  # its event is never delivered
    iid = events[0]["detail"]["EC2InstanceId"]
    result = sweeper.invoke(scheduled_event())
    assert result["lost_launches_finished"] == 1
    assert lifecycle_state(aws, iid) == "InService"
    assert list(held(aws, world.pool)) == [iid]
    assert moto_patches.os_hostname(iid) == "server-a1"
    [line] = sweeper.logs.decisions("lost_launch_finished")
    assert line["instance_id"] == iid and line["result"] == "CONTINUE"
    assert pool_problems(aws, world.group, world.pool) == []


def test_sweeper_releases_a_leaked_eni_and_leaves_running_holders(aws, events, launch, sweeper):
    world = build_world(aws, per_az=3, azs=1)
    sim = Simulation(aws, world, agent_online_after=0.0)
    try:
        sim.scale(1)
        [running] = list(held(aws, world.pool))
        stranded, leaked = sim.strand_eni(next(iter(world.subnets)))
    finally:
        sim.close()
    result = sweeper.invoke(scheduled_event())
    assert result["leaked_enis_released"] == 1
    enis = {e["NetworkInterfaceId"]: e for e in pool_enis(aws.client("ec2"), world.pool)}
    assert enis[leaked]["Status"] == "available"
    assert list(held(aws, world.pool)) == [running]  # the running holder keeps its ENI
    [line] = sweeper.logs.decisions("leaked_eni_released")
    assert (line["eni_id"], line["instance_id"]) == (leaked, stranded)
    assert line["instance_state"] == "shutting-down"


def test_capacity_figures_for_an_uneven_split(aws, sweeper):
    world = build_world(aws, per_az=2, azs=2, max_size=5)
    a = sorted(world.subnets)[0]
    create_pool_eni(aws.client("ec2"), world.subnets[a], "10.0.0.10", "server-a9", world.pool)
    sweeper.invoke(scheduled_event())
    figures = {
        line["az"]: (line["free"], line["in_use"], line["need"], line["shortfall"])
        for line in sweeper.logs.decisions("pool_capacity")
    }
    # max 5 (+10% headroom = 6) over 2 AZs: 3 each; the pool has 3 in one AZ, 2 in the other
    assert figures == {a: (3, 0, 3, 0), sorted(world.subnets)[1]: (2, 0, 3, 1)}


@pytest.mark.parametrize("attached", [0, 100])
def test_sweeper_pass_cost_for_a_pool_of_100(aws, sweeper, attached):
    world = build_world(aws, per_az=50, azs=2, max_size=100)
    ec2 = aws.client("ec2")
    for eni in pool_enis(ec2, world.pool)[:attached]:
        iid = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=eni["SubnetId"]
        )["Instances"][0]["InstanceId"]
        ec2.attach_network_interface(
            NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=iid, DeviceIndex=1
        )
    with metered() as meter:
        sweeper.invoke(scheduled_event())
    calls = meter.by_operation()
    print(
        f"\nsweeper pass, pool of 100 ENIs ({attached} attached), one group: "
        f"{meter.total} calls {calls}"
    )
    expected = {
        "autoscaling:DescribeAutoScalingGroups": 1,
        "autoscaling:DescribeLifecycleHooks": 1,
        "ec2:DescribeNetworkInterfaces": 1,
        "ec2:DescribeSubnets": 1,  # the group's VPC: only ENIs there are usable
    }
    if attached:
        expected["ec2:DescribeInstances"] = 1  # the holders' states, 200 ids a call
    assert calls == expected


@pytest.mark.slow
def test_sweeper_and_controller_at_once_never_attach_one_eni_twice(aws, events, launch, sweeper):
    n = 12
    world = build_world(aws, per_az=n, azs=1, max_size=n)
    scale(aws, world.group, n)
    stop = threading.Event()
    passes = []

    def sweeping() -> None:
        while not stop.is_set():
            passes.append(sweeper.invoke(scheduled_event()))

    thread = threading.Thread(target=sweeping)
    thread.start()
    try:
        results = invoke_all(launch, list(events))
    finally:
        stop.set()
        thread.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    holders = held(aws, world.pool)
    assert len(holders) == n and all(len(enis) == 1 for enis in holders.values())
    assert {lifecycle_state(aws, e["detail"]["EC2InstanceId"]) for e in events} == {"InService"}
    assert passes and pool_problems(aws, world.group, world.pool) == []
