"""Pure checks behind the group's real life: a refresh's headroom per AZ (for doctor) and
the sweeper's report of addresses held outside every managed group."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fixed_ip.capacity import refresh_headroom
from fixed_ip.launch import Deps, LaunchUseCase
from fixed_ip.models import ManagedGroup, PoolEni
from fixed_ip.settings import Settings
from fixed_ip.sweeper import SweeperUseCase
from tests.fakes import NOW, FakeCloud, RecordingObserver


def eni(n: int, az: str, groups: str | None = None) -> PoolEni:
    tags = {"fixed-ip:groups": groups} if groups else {}
    return PoolEni(f"eni-{n}", f"10.0.0.{n}", az, "s", "v", "available", None, tags=tags)


GROUP = ManagedGroup("web-asg", 6, ("az-a", "az-c"), (), ())
POOL = [eni(n, "az-a") for n in range(3)] + [eni(n + 10, "az-c") for n in range(3)]


@pytest.mark.parametrize(
    ("percent", "missing"), [(None, [0, 0]), (100, [0, 0]), (110, [1, 1]), (150, [2, 2])]
)
def test_refresh_headroom_per_az(percent, missing):
    checks = refresh_headroom(GROUP, "web", POOL, percent)
    assert [c.az for c in checks] == ["az-a", "az-c"]
    assert [c.missing for c in checks] == missing
    for check in checks:
        if check.ok:
            assert "OK" in check.advice()
        else:
            advice = check.advice()
            assert f"add {check.missing} address(es) in {check.az}" in advice
            assert "MaxHealthyPercentage 100" in advice


def test_refresh_headroom_uses_the_groups_policy_and_only_enis_that_admit_it():
    group = ManagedGroup("web-asg", 6, ("az-a", "az-c"), (), (), max_healthy_percentage=200)
    pool = [*POOL, eni(20, "az-a", groups="db-*")]
    checks = refresh_headroom(group, "web", pool)
    assert [(c.addresses, c.need, c.max_healthy_percent) for c in checks] == [
        (3, 6, 200),
        (3, 6, 200),
    ]


def test_the_sweeper_reports_a_live_holder_outside_every_group_and_leaves_it_attached():
    cloud = FakeCloud()
    cloud.add_group(max_size=2)
    mine = cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    detached = cloud.add_instance("i-00000000000000d01", lifecycle="Detached")
    detached.group = "detached-from-web"  # listed by no managed group
    mine.instance_id, mine.device_index = detached.instance_id, 1
    young = cloud.add_eni("10.0.0.5", "server-a2", pool="web-asg")
    fresh = cloud.add_instance("i-00000000000000e01", launch_time=NOW - timedelta(seconds=5))
    fresh.group = "elsewhere"
    young.instance_id = fresh.instance_id
    s = Settings(document="doc")
    deps = Deps(compute=cloud, lifecycle=cloud, commands=cloud, clock=cloud.clock)
    obs = RecordingObserver()
    report = SweeperUseCase(deps, s, LaunchUseCase(deps, s)).run(
        now=NOW, deadline=1e9, observer=obs
    )
    assert report.outside == [mine.eni_id] and report.released == []
    assert mine.instance_id == detached.instance_id and "detach" not in cloud.calls
    [line] = [x for x in obs.lines if x["decision"] == "eni_held_outside_group"]
    assert (line["instance_id"], line["ip"], line["pool"]) == (
        detached.instance_id,
        "10.0.0.4",
        "web-asg",
    )
    assert ("EnisHeldOutsideGroup", 1, {"Pool": "web-asg"}) in obs.dimensioned
