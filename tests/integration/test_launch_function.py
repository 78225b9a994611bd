"""LaunchFunction from template.yaml, on moto with the fidelity patches: the whole launch
path, duplicates, concurrency, bad input and hostile tags."""

from __future__ import annotations

import copy
import threading

import pytest

from fixed_ip_local import moto_patches
from fixed_ip_local.invariants import pool_enis, violations
from fixed_ip_local.metering import metered
from fixed_ip_local.world import build_world, create_pool_eni
from tests.faults.checks import pool_problems
from tests.helpers import invalid_event_names, load_event

# The hook's own policy when the pool is exhausted (the stack's default is WAIT).
ABANDON_WHEN_EXHAUSTED = {"on_exhausted": "ABANDON"}

MINIMUM_LAUNCH_CALLS = {
    "ec2:DescribeInstances": 1,
    "ec2:DescribeNetworkInterfaces": 1,
    "autoscaling:DescribeAutoScalingGroups": 1,
    "ec2:AttachNetworkInterface": 1,
    "ec2:CreateTags": 1,
    "ec2:DescribeSubnets": 1,
    "ssm:SendCommand": 1,
    "ssm:GetCommandInvocation": 1,
    "autoscaling:CompleteLifecycleAction": 1,
}


def scale(aws, group: str, desired: int) -> None:
    aws.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=desired
    )


def lifecycle_state(aws, instance_id: str) -> str | None:
    resp = aws.client("autoscaling").describe_auto_scaling_instances(InstanceIds=[instance_id])
    found = resp["AutoScalingInstances"]
    return found[0]["LifecycleState"] if found else None


def held(aws, pool: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for eni in pool_enis(aws.client("ec2"), pool):
        holder = eni.get("Attachment", {}).get("InstanceId")
        if holder:
            out.setdefault(holder, []).append(eni)
    return out


def instance_tags(aws, instance_id: str) -> dict[str, str]:
    inst = aws.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]
    return {t["Key"]: t["Value"] for t in inst["Instances"][0].get("Tags", [])}


def invoke_all(launch, evs: list[dict]) -> list:
    results: list = [None] * len(evs)
    barrier = threading.Barrier(len(evs))

    def go(n: int) -> None:
        barrier.wait()
        try:
            results[n] = launch.invoke(evs[n])
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=go, args=(n,)) for n in range(len(evs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_launch_end_to_end_with_the_minimum_api_calls(aws, world, events, launch):
    scale(aws, world.group, 1)
    [event] = events
    assert event["detail-type"] == "EC2 Instance-launch Lifecycle Action"
    iid = event["detail"]["EC2InstanceId"]
    assert lifecycle_state(aws, iid) == "Pending:Wait"

    with metered() as meter:
        result = launch.invoke(event)

    assert result["result"] == "CONTINUE" and result["decision"] == "lifecycle_completed"
    [eni] = held(aws, world.pool)[iid]
    assert eni["Attachment"]["DeviceIndex"] == 1
    assert eni["Attachment"]["DeleteOnTermination"] is False
    host = world.enis[eni["NetworkInterfaceId"]]
    assert instance_tags(aws, iid)["HostName"] == host == instance_tags(aws, iid)["Name"]
    assert moto_patches.os_hostname(iid) == host
    os_now = moto_patches.instance_os(iid)
    assert os_now["report"]["address"] == eni["PrivateIpAddress"] and os_now["report"]["ok"]
    assert lifecycle_state(aws, iid) == "InService"
    assert meter.by_operation() == MINIMUM_LAUNCH_CALLS
    assert sum(MINIMUM_LAUNCH_CALLS.values()) <= 9
    [final] = launch.logs.decisions("lifecycle_completed")
    assert final["instance_id"] == iid and final["ip"] == eni["PrivateIpAddress"]
    assert final["host_name"] == host and final["group"] == world.group
    assert final["az"] == eni["AvailabilityZone"] and final["eni_id"] == eni["NetworkInterfaceId"]
    assert pool_problems(aws, world.group, world.pool) == []


def test_the_checker_sees_an_in_service_instance_without_its_address_in_the_os(
    aws, world, events, launch
):
    """Invariant 2 is checked inside the instance too: an instance whose OS lost the
    address (here: its simulated OS starts afresh) is a violation."""
    scale(aws, world.group, 1)
    [event] = events
    iid = event["detail"]["EC2InstanceId"]
    assert launch.invoke(event)["result"] == "CONTINUE"
    check = {"os_address": moto_patches.os_address}
    assert violations(aws, world.group, world.pool, **check) == []
    moto_patches.set_instance_os(iid, "ubuntu-22.04")
    [problem] = violations(aws, world.group, world.pool, **check)
    assert iid in problem and "without its fixed address" in problem


def test_os_that_cannot_configure_the_address_abandons_os_address_failed(
    aws, world, events, launch
):
    """Issue 12: the controller believes only the instance's verification. An OS the
    script cannot configure (nothing it knows manages the network) prints the address
    missing: ABANDON `os_address_failed` with the script's own message, the ENI freed."""
    moto_patches.queue_instance_os("unknown")
    scale(aws, world.group, 1)
    [event] = events
    iid = event["detail"]["EC2InstanceId"]
    result = launch.invoke(event)
    assert (result["result"], result["reason"]) == ("ABANDON", "os_address_failed")
    assert "is not configured on" in result["detail"]
    report = moto_patches.instance_os(iid)["report"]
    assert report["message"] and report["message"] in result["detail"]
    assert held(aws, world.pool) == {}  # terminated by the ABANDON: its ENI is free again
    assert violations(aws, world.group, world.pool) == []


def test_pool_eni_without_host_name_tag_serves_its_address(aws, events, launch):
    """Issue 12: the host name is optional, as in the seed article. The ENI serves its
    address: CONTINUE, the address configured in the OS, no host name set or tagged."""
    world = build_world(aws, per_az=1, azs=1)
    [eni_id] = world.enis
    aws.client("ec2").delete_tags(Resources=[eni_id], Tags=[{"Key": "HostName"}])
    scale(aws, world.group, 1)
    [event] = events
    iid = event["detail"]["EC2InstanceId"]
    result = launch.invoke(event)
    assert (result["result"], result["reason"]) == ("CONTINUE", "ok")
    assert "host_name" not in result and list(held(aws, world.pool)) == [iid]
    assert "HostName" not in instance_tags(aws, iid) and "Name" not in instance_tags(aws, iid)
    assert moto_patches.os_hostname(iid) is None
    assert moto_patches.instance_os(iid)["summary"].endswith("rule ok")
    [note] = launch.logs.decisions("no_host_name")
    assert note["eni_id"] == eni_id and note["instance_id"] == iid
    assert pool_problems(aws, world.group, world.pool) == []


def test_pool_named_in_hook_metadata(aws, events, launch):
    world = build_world(aws, group="frontend", pool="web", per_az=1, metadata={"pool": "web"})
    scale(aws, world.group, 1)
    [event] = events
    assert event["detail"]["NotificationMetadata"] == '{"pool": "web"}'
    shaped = copy.deepcopy(load_event("launch-pool-metadata.json"))
    shaped["detail"].update(
        {k: event["detail"][k] for k in ("EC2InstanceId", "LifecycleActionToken")},
        AutoScalingGroupName="frontend",
    )
    result = launch.invoke(shaped)
    assert result["result"] == "CONTINUE"
    assert list(held(aws, "web")) == [event["detail"]["EC2InstanceId"]]


def test_duplicate_delivery_afterwards_changes_nothing(aws, world, events, launch):
    scale(aws, world.group, 1)
    [event] = events
    first = launch.invoke(event)
    before = held(aws, world.pool)
    with metered() as meter:
        again = launch.invoke(copy.deepcopy(event))
    assert first["result"] == "CONTINUE"
    assert again["decision"] == "lifecycle_not_active" and again["reason"] == "action_not_active"
    assert held(aws, world.pool).keys() == before.keys()
    assert meter.mutating() == {}


def test_simultaneous_duplicates_attach_one_eni(aws, world, events, launch):
    scale(aws, world.group, 1)
    [event] = events
    results = invoke_all(launch, [copy.deepcopy(event) for _ in range(6)])
    assert not [r for r in results if isinstance(r, Exception)], results
    iid = event["detail"]["EC2InstanceId"]
    assert len(held(aws, world.pool)[iid]) == 1
    decisions = sorted(r["decision"] for r in results)
    assert decisions.count("lifecycle_completed") == 1
    # the losers' CompleteLifecycleAction failed with AWS's message, which quotes the token
    token = event["detail"]["LifecycleActionToken"]
    assert launch.logs.records and token not in repr(launch.logs.records)
    assert lifecycle_state(aws, iid) == "InService"
    assert pool_problems(aws, world.group, world.pool) == []


@pytest.mark.slow
def test_thirty_concurrent_launches_in_one_az_each_get_their_own_eni(aws, events, launch):
    n = 30
    world = build_world(aws, per_az=n, azs=1, max_size=n)
    scale(aws, world.group, n)
    assert len(events) == n
    results = invoke_all(launch, events)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [r["result"] for r in results] == ["CONTINUE"] * n
    holders = held(aws, world.pool)
    assert len(holders) == n and all(len(enis) == 1 for enis in holders.values())
    assert len({e[0]["NetworkInterfaceId"] for e in holders.values()}) == n
    attempts = [r["attach_attempts"] for r in results]
    print(
        f"\n{n} launches, {n} ENIs: attach attempts mean {sum(attempts) / n:.2f}, "
        f"max {max(attempts)}, conflicts {sum(r['conflicts'] for r in results)}"
    )
    assert sum(attempts) / n < 1.5
    assert pool_problems(aws, world.group, world.pool) == []


def _aws_state(aws, world) -> tuple:
    ec2 = aws.client("ec2")
    enis = sorted(
        (e["NetworkInterfaceId"], e["Status"], str(e.get("Attachment", {}).get("InstanceId")))
        for e in pool_enis(ec2, world.pool)
    )
    tags = sorted((t["ResourceId"], t["Key"], t["Value"]) for t in ec2.describe_tags()["Tags"])
    actions = [(a["instance_id"], a["state"]) for a in moto_patches.lifecycle_actions()]
    return enis, tags, actions


@pytest.mark.parametrize("name", invalid_event_names())
def test_malformed_events_change_nothing_and_say_why(aws, world, events, launch, name):
    scale(aws, world.group, 1)
    event = load_event(f"invalid/{name}")
    if isinstance(event, dict) and isinstance(event.get("detail"), dict):
        # aim at the real pending instance so a wrongly accepted event would act on it
        real = events[0]["detail"]
        for key in ("EC2InstanceId", "LifecycleActionToken", "AutoScalingGroupName"):
            keep_bad = name == "bad-instance-id.json" and key == "EC2InstanceId"
            if key in event["detail"] and not keep_bad:
                event["detail"][key] = real[key]
    before = _aws_state(aws, world)
    with metered() as meter:
        result = launch.invoke(event)
    if name.startswith("metadata-"):
        # A real action of a managed hook, misconfigured: ABANDONed at once, with the
        # reason, and nothing else changed.
        assert (result["result"], result["reason"]) == ("ABANDON", "invalid_metadata")
        assert meter.mutating() == {"autoscaling:CompleteLifecycleAction": 1}
        [line] = launch.logs.decisions("lifecycle_completed")
        assert line["detail"] == result["detail"] and "NotificationMetadata" in line["detail"]
        enis, tags, _ = _aws_state(aws, world)
        assert (enis, tags) == before[:2]
        return
    assert result["result"] == "REFUSED"
    assert meter.total == 0
    assert _aws_state(aws, world) == before
    [line] = launch.logs.decisions("event_refused")
    assert line["reason"] == "invalid_event" and line["detail"] == result["detail"]
    assert line["level"] == "ERROR"


@pytest.mark.parametrize("hostile", ["a;reboot", "$(id)", "a" * 300, ""])
def test_hostile_host_name_tags_never_reach_the_instance(aws, events, launch, hostile):
    world = build_world(aws, per_az=1, azs=1, metadata=ABANDON_WHEN_EXHAUSTED)
    ec2 = aws.client("ec2")
    [eni_id] = world.enis
    ec2.create_tags(Resources=[eni_id], Tags=[{"Key": "HostName", "Value": hostile}])
    scale(aws, world.group, 1)
    [event] = events
    iid = event["detail"]["EC2InstanceId"]
    with metered() as meter:
        result = launch.invoke(event)
    assert (result["result"], result["reason"]) == ("ABANDON", "pool_exhausted")
    mutating = meter.mutating()
    assert mutating == {"autoscaling:CompleteLifecycleAction": 1}
    assert held(aws, world.pool) == {}
    assert moto_patches.os_hostname(iid) is None
    assert instance_tags(aws, iid).get("HostName") is None
    [refused] = launch.logs.decisions("eni_refused")
    assert refused["eni_id"] == eni_id and refused["reason"] == "invalid_host_name"
    assert refused["instance_id"] == iid


def test_failed_command_abandons_and_the_eni_comes_back(aws, world, events, launch):
    scale(aws, world.group, 1)
    [event] = events
    iid = event["detail"]["EC2InstanceId"]
    moto_patches.set_command_outcome(iid, "Failed")
    result = launch.invoke(event)
    assert (result["result"], result["reason"]) == ("ABANDON", "command_failed")
    assert held(aws, world.pool) == {}  # terminated by ABANDON: its ENI is available again
    assert pool_problems(aws, world.group, world.pool) == []


def test_exhausted_pool_abandons_the_extra_launch(aws, events, launch):
    """The hook's own policy (NotificationMetadata) ABANDON, over the stack's WAIT."""
    world = build_world(aws, per_az=1, azs=1, max_size=3, metadata=ABANDON_WHEN_EXHAUSTED)
    scale(aws, world.group, 2)
    results = invoke_all(launch, list(events))
    assert sorted(r["result"] for r in results) == ["ABANDON", "CONTINUE"]
    [abandoned] = [r for r in results if r["result"] == "ABANDON"]
    assert abandoned["reason"] == "pool_exhausted"
    assert pool_problems(aws, world.group, world.pool) == []


def test_exhausted_pool_keeps_the_extra_launch_waiting(aws, events, launch):
    """The default policy WAIT: the extra launch stays in Pending:Wait, its action open
    with a fresh heartbeat, nothing attached to it."""
    world = build_world(aws, per_az=1, azs=1, max_size=3)
    scale(aws, world.group, 2)
    results = invoke_all(launch, list(events))
    assert sorted(r["decision"] for r in results) == ["lifecycle_completed", "lifecycle_waiting"]
    [waiting] = [r for r in results if r["decision"] == "lifecycle_waiting"]
    assert waiting["reason"] == "waiting_for_address" and "result" not in waiting
    [iid] = [
        e["detail"]["EC2InstanceId"]
        for e in events
        if e["detail"]["EC2InstanceId"] not in held(aws, world.pool)
    ]
    assert lifecycle_state(aws, iid) == "Pending:Wait"
    [action] = [a for a in moto_patches.lifecycle_actions() if a["instance_id"] == iid]
    assert action["state"] == "active" and action["heartbeats"] == 1
    assert pool_problems(aws, world.group, world.pool) == []


@pytest.mark.slow
def test_forced_races_are_recovered_on_moto(aws, events, launch, monkeypatch):
    """Everyone aims at the lowest IP (as the seed did): AWS's InUse answers force the
    losers to re-read and claim another ENI; all still get their own."""
    from fixed_ip import claim as claim_module

    monkeypatch.setattr(
        claim_module,
        "spread_order",
        lambda me, waiting, free: sorted(free, key=lambda e: (e.ip_key, e.eni_id)),
    )
    n = 8
    world = build_world(aws, per_az=n, azs=1, max_size=n)
    scale(aws, world.group, n)
    results = invoke_all(launch, list(events))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [r["result"] for r in results] == ["CONTINUE"] * n
    assert sum(r["conflicts"] for r in results) > 0
    holders = held(aws, world.pool)
    assert len(holders) == n and all(len(e) == 1 for e in holders.values())
    assert pool_problems(aws, world.group, world.pool) == []


def test_enis_outside_the_pool_are_never_touched(aws, events, launch):
    """Invariant 5: in the instance's own AZ, untagged ENIs, another pool's ENIs and a
    pool-tagged ENI of another VPC are never attached; only the pool's own is."""
    world = build_world(aws, per_az=1, azs=1, metadata=ABANDON_WHEN_EXHAUSTED)
    ec2 = aws.client("ec2")
    subnet = next(iter(world.subnets.values()))
    az = next(iter(world.subnets))
    untagged = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.0.20")
    other_pool = create_pool_eni(ec2, subnet, "10.0.0.21", "db-1", "db-pool")
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.9.0.0/24", AvailabilityZone=az)[
        "Subnet"
    ]["SubnetId"]
    foreign = create_pool_eni(ec2, other_subnet, "10.9.0.4", "server-x1", world.pool)
    strangers = [untagged["NetworkInterface"]["NetworkInterfaceId"], other_pool, foreign]
    scale(aws, world.group, 2)  # two launches, one pool ENI in this VPC
    results = invoke_all(launch, list(events))
    assert sorted(r["result"] for r in results) == ["ABANDON", "CONTINUE"]
    states = {
        e["NetworkInterfaceId"]: e["Status"]
        for e in ec2.describe_network_interfaces(NetworkInterfaceIds=strangers)["NetworkInterfaces"]
    }
    assert states == dict.fromkeys(strangers, "available")
