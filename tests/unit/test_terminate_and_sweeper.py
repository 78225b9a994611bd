"""The terminate and sweeper use cases on in-memory fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fixed_ip.capacity import az_need
from fixed_ip.launch import ABANDON, CONTINUE, Deps, LaunchUseCase
from fixed_ip.models import Hook, ManagedGroup, TerminateRequest
from fixed_ip.settings import Settings
from fixed_ip.sweeper import SweeperUseCase
from fixed_ip.terminate import TerminateUseCase
from tests.fakes import NOW, FakeCloud, RecordingObserver

IID = "i-0000000000000001"


def deps(cloud: FakeCloud) -> Deps:
    return Deps(compute=cloud, lifecycle=cloud, commands=cloud, clock=cloud.clock)


def settings(**kw) -> Settings:
    return Settings(document="doc", **kw)


def terminate(cloud: FakeCloud, **kw):
    obs = RecordingObserver()
    req = TerminateRequest(instance_id=IID, group="web-asg", hook="fixed-ip-terminate", token="tok")
    out = TerminateUseCase(deps(cloud), settings(**kw)).run(req, deadline=1e9, observer=obs)
    return out, obs


@pytest.fixture
def held() -> FakeCloud:
    cloud = FakeCloud()
    cloud.add_instance(IID, lifecycle="Terminating:Wait")
    eni = cloud.add_eni("10.0.0.4", "server-a1")
    eni.instance_id, eni.device_index = IID, 1
    cloud.instances[IID].nics[1] = eni.eni_id
    return cloud


def test_terminate_releases_the_pool_eni_then_continues(held):
    out, obs = terminate(held)
    assert (out.result, out.reason, out.completed) == (CONTINUE, "ok", True)
    [eni] = held.enis.values()
    assert eni.instance_id is None and out.released == [eni.eni_id]
    assert held.calls.index("detach") < held.calls.index("complete")
    assert obs.count("Releases") == 1 and "eni_detached" in obs.decisions()


def test_terminate_without_pool_eni_completes_at_once():
    cloud = FakeCloud()
    cloud.add_instance(IID, lifecycle="Terminating:Wait")
    other = cloud.add_eni("10.0.0.9", "not-pool", pool=None)  # not in any pool: untouched
    other.instance_id = IID
    out, _ = terminate(cloud)
    assert (out.reason, out.completed) == ("no_pool_eni", True)
    assert "detach" not in cloud.calls and other.instance_id == IID


def test_duplicate_terminate_changes_nothing(held):
    terminate(held)
    held.calls.clear()
    out, _ = terminate(held)
    assert out.completed is False and out.reason == "no_pool_eni"
    assert held.mutations() == ["complete"]


def test_terminate_waits_for_available_and_still_continues_when_slow(held):
    real = held.describe_enis
    polls = []

    def slow(ids):
        polls.append(ids)
        return [e.__class__(**{**e.__dict__, "status": "detaching"}) for e in real(ids)]

    held.describe_enis = slow
    out, obs = terminate(held, release_wait_seconds=5)
    assert out.reason == "release_pending" and out.completed and out.result == CONTINUE
    assert len(polls) > 1 and held.clock.now - 1000.0 == pytest.approx(5)
    assert "eni_release_pending" in obs.decisions()


# --- sweeper ---------------------------------------------------------------------------


def sweep(cloud: FakeCloud, **kw):
    s = settings(**kw)
    launch = LaunchUseCase(deps(cloud), s)
    obs = RecordingObserver()
    report = SweeperUseCase(deps(cloud), s, launch).run(now=NOW, deadline=1e9, observer=obs)
    return report, obs


def world(max_size: int = 6) -> FakeCloud:
    cloud = FakeCloud()
    cloud.add_group(max_size=max_size)
    for n, ip in enumerate(["10.0.0.4", "10.0.0.5", "10.0.0.6"], 1):
        cloud.add_eni(ip, f"server-a{n}", pool="web-asg")
    for n, ip in enumerate(["10.0.1.4", "10.0.1.5", "10.0.1.6"], 1):
        cloud.add_eni(ip, f"server-c{n}", pool="web-asg", az="az-c")
    return cloud


def test_sweeper_finishes_a_lost_launch_by_instance_id():
    cloud = world()
    cloud.add_instance(IID, lifecycle="Pending:Wait")  # launched an hour ago, no ENI
    report, obs = sweep(cloud)
    assert report.lost_launches == [(IID, CONTINUE)]
    assert len(cloud.held_by(IID)) == 1 and cloud.completed == [(IID, CONTINUE)]
    assert cloud.completed_tokens == [None]  # completed by instance id
    assert obs.count("LostLaunchesFinished") == 1
    # The launch's own metrics carry the Pool dimension, as the launch function's do,
    # so the pool alarms and the dashboard count launches the sweeper finished.
    pool = {"Pool": "web-asg"}
    by_name = {name: dims for name, _, dims in obs.dimensioned}
    for name in ("Claims", "SsmWaitSeconds", "Continues", "LostLaunchesFinished"):
        assert by_name.get(name) == pool, (name, obs.dimensioned)


def test_lost_launch_with_no_free_eni_counts_as_an_exhausted_pool():
    cloud = FakeCloud()
    cloud.add_group(max_size=2)
    cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    _hold(cloud, "i-0000000000000000a", "10.0.0.4")
    cloud.add_instance(IID, lifecycle="Pending:Wait")
    report, obs = sweep(cloud, on_pool_exhausted="ABANDON")
    assert report.lost_launches == [(IID, ABANDON)]
    pool = {"Pool": "web-asg"}
    assert ("Abandons", 1, pool) in obs.dimensioned
    assert ("PoolExhausted", 1, pool) in obs.dimensioned


def test_sweeper_leaves_a_recent_launch_to_the_controller():
    cloud = world()
    cloud.add_instance(IID, lifecycle="Pending:Wait", launch_time=NOW - timedelta(seconds=30))
    report, _ = sweep(cloud)
    assert report.lost_launches == [] and cloud.mutations() == []


def _hold(cloud: FakeCloud, instance_id: str, ip: str, **inst):
    cloud.add_instance(instance_id, lifecycle="InService", **inst)
    eni = next(e for e in cloud.enis.values() if e.ip == ip)
    eni.instance_id, eni.device_index = instance_id, 1
    return eni


def _dead(cloud: FakeCloud, instance_id: str, ip: str):
    """A pool ENI still attached to an instance terminated an hour ago."""
    return _hold(
        cloud, instance_id, ip, state="terminated", state_changed_at=NOW - timedelta(hours=1)
    )


def test_sweeper_releases_leaked_enis_and_never_a_running_holders():
    cloud = world()
    running = _hold(cloud, "i-0000000000000010", "10.0.0.4")
    stopped = _hold(cloud, "i-0000000000000011", "10.0.0.5", state="stopped")
    dead = _dead(cloud, "i-0000000000000012", "10.0.0.6")
    fresh = _hold(
        cloud,
        "i-0000000000000013",
        "10.0.1.4",
        state="shutting-down",
        state_changed_at=NOW - timedelta(seconds=10),
    )
    gone = _hold(cloud, "i-0000000000000014", "10.0.1.5")
    del cloud.instances["i-0000000000000014"]
    report, obs = sweep(cloud)
    assert sorted(report.released) == sorted([dead.eni_id, gone.eni_id])
    assert running.instance_id and stopped.instance_id and fresh.instance_id
    assert dead.instance_id is None and gone.instance_id is None
    assert obs.count("LeakedEnisReleased") == 2


def test_sweeper_releases_every_pool_eni_of_a_dead_instance():
    cloud = world()
    first = _dead(cloud, "i-0000000000000012", "10.0.0.6")
    second = next(e for e in cloud.enis.values() if e.ip == "10.0.0.5")
    second.instance_id, second.device_index = "i-0000000000000012", 2
    report, _ = sweep(cloud)
    assert sorted(report.released) == sorted([first.eni_id, second.eni_id])
    assert first.instance_id is None and second.instance_id is None


def test_a_group_whose_name_cannot_be_a_pool_is_skipped_and_the_sweep_goes_on():
    """No pool in the metadata and a group name a pool name cannot take: that group is
    skipped with its reason; the other groups' repairs and figures still happen."""
    cloud = world()
    cloud.add_group(name="web#(legacy)")
    cloud.add_instance("i-00000000000000bb", lifecycle="Pending:Wait", group="web#(legacy)")
    dead = _dead(cloud, "i-0000000000000012", "10.0.0.6")
    report, obs = sweep(cloud)
    [skipped] = [x for x in obs.lines if x["decision"] == "group_skipped"]
    assert skipped["group"] == "web#(legacy)" and skipped["reason"] == "invalid_metadata"
    assert report.released == [dead.eni_id] and report.groups == 2
    assert "pool_capacity" in obs.decisions()


def test_sweeper_reports_in_service_instances_without_an_eni():
    cloud = world()
    cloud.add_instance("i-00000000000000aa", lifecycle="InService")
    report, obs = sweep(cloud)
    assert report.without_eni == ["i-00000000000000aa"]
    [line] = [x for x in obs.lines if x["decision"] == "instance_without_eni"]
    assert line["instance_id"] == "i-00000000000000aa" and line["pool"] == "web-asg"


def _group(max_size: int, azs: int, mhp: int | None = None) -> ManagedGroup:
    return ManagedGroup(
        "g", max_size, tuple(f"az-{i}" for i in range(azs)), (), (), max_healthy_percentage=mhp
    )


@pytest.mark.parametrize(
    ("max_size", "azs", "mhp", "default", "need"),
    [
        (6, 2, 100, 110, 3),
        (5, 2, 100, 110, 3),
        (6, 2, None, 110, 4),
        (4, 2, 200, 110, 4),
        (7, 3, None, 100, 3),
        (1, 3, 100, 110, 1),
    ],
)
def test_az_need(max_size, azs, mhp, default, need):
    assert az_need(_group(max_size, azs, mhp), default) == need


def test_capacity_per_az_with_an_uneven_split():
    cloud = FakeCloud()
    cloud.add_group(max_size=5, max_healthy_percentage=100)  # needs 3 per AZ
    for n in range(3):
        cloud.add_eni(f"10.0.0.{n + 4}", f"a{n}", pool="web-asg")
    for n in range(2):
        cloud.add_eni(f"10.0.1.{n + 4}", f"c{n}", pool="web-asg", az="az-c")
    _hold(cloud, "i-0000000000000020", "10.0.0.4")
    report, obs = sweep(cloud)
    figures = {(c.az, c.free, c.in_use, c.need, c.shortfall) for c in report.capacity}
    assert figures == {("az-a", 2, 1, 3, 0), ("az-c", 2, 0, 3, 1)}
    assert ("PoolShortfall", 1, {"Pool": "web-asg", "AZ": "az-c"}) in obs.dimensioned
    assert ("PoolFree", 2, {"Pool": "web-asg", "AZ": "az-a"}) in obs.dimensioned


def test_groups_sharing_a_pool_add_their_needs():
    cloud = world(max_size=2)
    cloud.add_group("web-b", max_size=2, max_healthy_percentage=100)
    cloud.groups["web-b"] = (
        2,
        ("az-a", "az-c"),
        (Hook("fixed-ip-launch", "autoscaling:EC2_INSTANCE_LAUNCHING", '{"pool": "web-asg"}'),),
        100,
    )
    cloud.groups["web-asg"] = (2, ("az-a", "az-c"), cloud.groups["web-asg"][2], 100)
    report, _ = sweep(cloud)
    assert {c.az: c.need for c in report.capacity} == {"az-a": 2, "az-c": 2}


def test_group_with_invalid_metadata_is_skipped_with_a_reason():
    cloud = world()
    cloud.groups["web-asg"] = (
        6,
        ("az-a",),
        (Hook("fixed-ip-launch", "autoscaling:EC2_INSTANCE_LAUNCHING", "not json"),),
        None,
    )
    report, obs = sweep(cloud)
    [line] = [x for x in obs.lines if x["decision"] == "group_skipped"]
    assert "not valid JSON" in line["detail"] and report.capacity == []
