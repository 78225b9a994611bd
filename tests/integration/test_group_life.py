"""The group's real life in the simulation (moto + patches, the real functions): pool
exhaustion under WAIT and ABANDON, instance refresh in both orders, and the holders that
are neither in service nor gone (Standby, stopped, detached)."""

from __future__ import annotations

import json
import time

import pytest

from fixed_ip import capacity
from fixed_ip.models import ManagedGroup, PoolEni
from fixed_ip_local import moto_patches
from fixed_ip_local.invariants import pool_enis, violations
from fixed_ip_local.simulation import Simulation
from fixed_ip_local.world import build_world

HOUR = 3600


def sim_of(aws, *, per_az=3, azs=1, max_size=4, metadata=None, parameters=None, **kw):
    world = build_world(
        aws, per_az=per_az, azs=azs, max_size=max_size, terminate_hook=True, metadata=metadata
    )
    return world, Simulation(
        aws, world, agent_online_after=0.0, replacement_backoff=0.0, parameters=parameters, **kw
    )


def holder_of(aws, pool: str) -> dict[str, str]:
    """instance id -> fixed IP, for every attached pool ENI."""
    return {
        e["Attachment"]["InstanceId"]: e["PrivateIpAddress"]
        for e in pool_enis(aws.client("ec2"), pool)
        if e.get("Attachment", {}).get("InstanceId")
    }


def sweeper_lines(sim: Simulation) -> list[dict]:
    return [r for r in sim.logs.records if r.get("function_name") == "SweeperFunction"]


# --- pool exhausted: WAIT --------------------------------------------------------------------


def test_a_fourth_launch_waits_and_gets_the_address_a_scale_in_releases(aws):
    """Pool of 3 in an AZ; the 4th launch waits in Pending:Wait (no relaunch); a holder
    terminates; the waiting instance gets that address from the release itself."""
    world, sim = sim_of(aws)
    try:
        assert sim.scale(3).continued == 3
        report = sim.scale(4)
        [waiter] = report.waiting
        assert report.relaunches == 0 and report.abandoned == [] and report.violations == []
        assert {r.instance_id: r.state for r in report.rows}[waiter] == "Pending:Wait"
        [action] = [
            a
            for a in moto_patches.lifecycle_actions()
            if a["instance_id"] == waiter and a["state"] == "active"
        ]
        assert action["heartbeats"] >= 1
        holders = holder_of(aws, world.pool)
        victim = sorted(holders)[0]
        released_ip = holders[victim]

        freed = sim.terminate(victim, decrement=True)

        assert [(iid, ip) for iid, ip, _ in freed.served] == [(waiter, released_ip)]
        assert holder_of(aws, world.pool)[waiter] == released_ip
        assert {r.instance_id: r.state for r in freed.rows}[waiter] == "InService"
        assert freed.waiting == [] and freed.relaunches == 0 and freed.violations == []
        assert sweeper_lines(sim) == []  # no sweeper pass was needed
        assert freed.served[0][2] < 10_000  # ms from the release to its CONTINUE
    finally:
        sim.close()


def test_a_wait_past_its_bound_ends_abandon_pool_exhausted(aws):
    _world, sim = sim_of(aws, parameters={"WaitForAddressSeconds": "1"})
    try:
        sim.scale(3)
        [waiter] = sim.scale(4).waiting
        time.sleep(1.2)
        result = sim.sweep()
        assert result["lost_launches_finished"] == 1
        [line] = [r for r in sweeper_lines(sim) if r.get("decision") == "lost_launch_finished"]
        assert (line["instance_id"], line["result"], line["reason"]) == (
            waiter,
            "ABANDON",
            "pool_exhausted",
        )
        [action] = [a for a in moto_patches.lifecycle_actions() if a["instance_id"] == waiter]
        assert action["result"] == "ABANDON"
    finally:
        sim.close()


def test_the_sweeper_keeps_a_waiting_instance_alive_with_heartbeats(aws):
    _world, sim = sim_of(aws)
    try:
        sim.scale(3)
        [waiter] = sim.scale(4).waiting
        before = next(a for a in moto_patches.lifecycle_actions() if a["instance_id"] == waiter)
        sim.sweep()
        after = next(a for a in moto_patches.lifecycle_actions() if a["instance_id"] == waiter)
        assert after["state"] == "active" and after["heartbeats"] > before["heartbeats"]
        gauges = [r for r in sweeper_lines(sim) if r.get("decision") == "pool_capacity"]
        assert [g["waiting"] for g in gauges] == [1]
    finally:
        sim.close()


@pytest.mark.parametrize(("policy", "relaunches"), [("ABANDON", HOUR // 120), ("WAIT", 0)])
def test_relaunch_churn_over_one_simulated_hour(aws, policy, relaunches):
    """The same exhausted pool for one simulated hour: ABANDON boots a replacement every
    round (RELAUNCH_ROUND_SECONDS = 120 s assumed), WAIT keeps one instance waiting."""
    _world, sim = sim_of(aws, metadata={"on_exhausted": policy})
    try:
        sim.scale(3)
        report = sim.scale(4, period=HOUR)
        assert report.relaunches == relaunches
        abandons = len(report.abandoned)
        assert abandons == (relaunches + 1 if policy == "ABANDON" else 0)
        assert len(report.waiting) == (1 if policy == "WAIT" else 0)
        assert report.violations == []
    finally:
        sim.close()


# --- instance refresh ------------------------------------------------------------------------


def _group(max_size: int, azs: tuple[str, ...], mhp: int | None) -> ManagedGroup:
    return ManagedGroup("web-asg", max_size, azs, (), (), max_healthy_percentage=mhp)


def test_refresh_terminate_first_keeps_every_address_of_an_exactly_sized_pool(aws):
    _world, sim = sim_of(aws, per_az=3, azs=2, max_size=6)
    try:
        sim.scale(6)
        out = sim.refresh(min_healthy=90, max_healthy=100)
        assert out.stalled is None and (out.replaced, out.total) == (6, 6)
        assert out.addresses_kept and len(out.ips_after) == 6
        assert out.step.abandoned == [] and out.step.relaunches == 0
        assert out.step.violations == [] and out.step.waiting == []
        assert all(r.state == "InService" for r in out.step.rows)
    finally:
        sim.close()


def test_refresh_launch_first_on_the_same_pool_is_flagged_beforehand_and_stalls(aws):
    world, sim = sim_of(aws, per_az=3, azs=2, max_size=6)
    try:
        sim.scale(6)
        azs = tuple(sorted(world.subnets))
        enis = [
            PoolEni(
                e["NetworkInterfaceId"],
                e["PrivateIpAddress"],
                e["AvailabilityZone"],
                "",
                "",
                e["Status"],
                None,
            )
            for e in pool_enis(aws.client("ec2"), world.pool)
        ]
        # What doctor says before the refresh is started.
        checks = capacity.refresh_headroom(_group(6, azs, None), world.pool, enis, 150)
        assert [c.missing for c in checks] == [2, 2]
        assert "MaxHealthyPercentage 100" in checks[0].advice()
        assert "add 2 address(es)" in checks[0].advice()
        assert all(c.ok for c in capacity.refresh_headroom(_group(6, azs, None), world.pool, enis))

        out = sim.refresh(min_healthy=100, max_healthy=150)
        assert out.stalled and out.replaced == 0
        assert out.addresses_kept, (out.ips_before, out.ips_after, out.step.rows)
        assert out.step.abandoned == [] and len(out.step.waiting) == 3
        assert out.step.violations == []
    finally:
        sim.close()


# --- holders that are neither in service nor gone --------------------------------------------


def test_standby_keeps_its_address_and_comes_back_with_it(aws):
    world, sim = sim_of(aws, per_az=2, max_size=2)
    try:
        sim.scale(2)
        iid, ip = sorted(holder_of(aws, world.pool).items())[0]
        sim.autoscaling.enter_standby(
            InstanceIds=[iid],
            AutoScalingGroupName=world.group,
            ShouldDecrementDesiredCapacity=True,
        )
        result = sim.sweep()
        assert result["leaked_enis_released"] == 0
        assert holder_of(aws, world.pool)[iid] == ip
        assert not [r for r in sweeper_lines(sim) if r.get("decision") == "eni_held_outside_group"]
        # Its address is legitimately held while it stands by: no invariant is broken.
        assert violations(aws, world.group, world.pool) == []
        sim.autoscaling.exit_standby(InstanceIds=[iid], AutoScalingGroupName=world.group)
        report = sim.scale(2)
        assert {r.instance_id: (r.state, r.ip) for r in report.rows}[iid] == ("InService", ip)
        assert report.launches == 0 and report.violations == []
    finally:
        sim.close()


def test_a_stopped_instance_of_the_group_keeps_its_address(aws):
    world, sim = sim_of(aws, per_az=2, max_size=2)
    try:
        sim.scale(2)
        iid, ip = sorted(holder_of(aws, world.pool).items())[0]
        aws.client("ec2").stop_instances(InstanceIds=[iid])
        result = sim.sweep()
        assert result["leaked_enis_released"] == 0
        assert holder_of(aws, world.pool)[iid] == ip
    finally:
        sim.close()


def test_a_detached_instance_keeps_its_address_and_is_reported(aws, capsys):
    world, sim = sim_of(aws, per_az=2, max_size=2)
    try:
        sim.scale(2)
        iid, ip = sorted(holder_of(aws, world.pool).items())[0]
        sim.autoscaling.detach_instances(
            InstanceIds=[iid], AutoScalingGroupName=world.group, ShouldDecrementDesiredCapacity=True
        )
        result = sim.sweep()
        assert result["leaked_enis_released"] == 0 and result["held_outside_group"] == 1
        assert holder_of(aws, world.pool)[iid] == ip
        [line] = [r for r in sweeper_lines(sim) if r.get("decision") == "eni_held_outside_group"]
        assert (line["instance_id"], line["ip"], line["pool"]) == (iid, ip, world.pool)
        # The function prints its EMF metrics to stdout, as on Lambda.
        blobs = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
        [blob] = [b for b in blobs if "EnisHeldOutsideGroup" in b]
        assert (blob["EnisHeldOutsideGroup"], blob["Pool"]) == ([1.0], world.pool)
    finally:
        sim.close()
