"""The simulation's OS knob and OS view (issue 12 item 5): the next instance's OS cannot
configure the fixed address; the rows say what each OS holds."""

from __future__ import annotations

import pytest

from fixed_ip_local import moto_patches
from fixed_ip_local.simulation import Simulation
from fixed_ip_local.world import build_world


@pytest.fixture
def sim(aws):
    world = build_world(aws, per_az=2, azs=1, max_size=3, heartbeat_timeout=30)
    simulation = Simulation(aws, world, agent_online_after=0.0, replacement_backoff=0.01)
    yield simulation
    simulation.close()


def test_the_knob_gives_the_next_launch_an_os_nothing_configures(sim):
    sim.fail_os_next()
    report = sim.scale(2)

    launched = [e["detail"]["EC2InstanceId"] for e in sim.events]
    oses = {iid: moto_patches.instance_os(iid) for iid in launched}
    assert [oses[iid]["distribution"] for iid in launched[:1]] == ["Gentoo Linux"]
    assert {oses[iid]["distribution"] for iid in launched[1:]} == {"Amazon Linux 2023"}
    # The rows show what each OS holds: the InService ones their configured address.
    assert report.rows
    for r in report.rows:
        assert r.state == "InService" and r.os == f"ens6 {r.ip} rule ok", r


def test_an_os_that_cannot_configure_the_address_is_abandoned_and_replaced(sim):
    sim.fail_os_next()
    report = sim.scale(1)

    assert [reason for _, reason in report.abandoned] == ["os_address_failed"]
    [row] = report.rows
    assert row.state == "InService"
    assert row.os == f"ens6 {row.ip} rule ok"
    assert report.violations == []
