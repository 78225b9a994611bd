"""The local simulation's semantics (make demo builds on them): EventBridge routing from
template.yaml, Lambda async retries, Pending:Wait -> CONTINUE -> InService, ABANDON and a
bounded replacement, heartbeat timeout, release on termination, and the demo's verdict."""

from __future__ import annotations

import io
import json
import time

import pytest

from fixed_ip import launch as launch_module
from fixed_ip_local import demo, moto_patches
from fixed_ip_local.invariants import group_instances, pool_enis
from fixed_ip_local.seed_claim import SeedClaim
from fixed_ip_local.simulation import AsyncLambda, Simulation, pattern_matches, rules_from_template
from fixed_ip_local.world import build_world
from tests.docs.readme_demo import unseen_excerpt_lines
from tests.helpers import load_event


def test_rules_come_from_the_template_and_match_like_eventbridge():
    rules = {r.function: r for r in rules_from_template()}
    assert set(rules) == {"LaunchFunction", "TerminateFunction"}
    rule = rules["LaunchFunction"]
    event = load_event("launch.json")
    assert pattern_matches(rule.pattern, event)
    assert not pattern_matches(rule.pattern, load_event("invalid/unmanaged-hook.json"))
    assert not pattern_matches(rule.pattern, load_event("invalid/terminate-action.json"))
    assert not pattern_matches(rule.pattern, load_event("invalid/wrong-source.json"))
    assert pattern_matches(
        rules["TerminateFunction"].pattern, load_event("invalid/terminate-action.json")
    )
    assert not pattern_matches(rules["TerminateFunction"].pattern, event)
    other = {r.function: r for r in rules_from_template({"HookNamePrefix": "team-b"})}
    assert not pattern_matches(other["LaunchFunction"].pattern, event)


class FlakyRunner:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def invoke(self, event):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"boom {self.calls}")
        return {"ok": event}


@pytest.mark.parametrize(
    ("failures", "attempts", "failed"), [(0, 1, False), (2, 3, False), (3, 3, True)]
)
def test_async_invocation_retries_twice_then_gives_up(failures, attempts, failed):
    fn = AsyncLambda(FlakyRunner(failures), retry_delay=0.001)
    inv = fn.invoke_async({"n": 1})
    fn.drain()
    fn.shutdown()
    assert (inv.attempts, inv.failed) == (attempts, failed)
    assert inv.result == (None if failed else {"ok": {"n": 1}})


@pytest.fixture
def small(aws):
    """One ENI, and the hook's policy ABANDON when the pool is exhausted."""
    world = build_world(
        aws, per_az=1, azs=1, max_size=3, heartbeat_timeout=30, metadata={"on_exhausted": "ABANDON"}
    )
    sim = Simulation(aws, world, agent_online_after=0.0, replacement_backoff=0.01)
    yield aws, world, sim
    sim.close()


def test_launch_waits_then_continues_into_service(small):
    _aws, _world, sim = small
    report = sim.scale(1)
    assert (report.launches, report.continued, report.violations) == (1, 1, [])
    [row] = report.rows
    assert row.state == "InService" and row.ip == "10.0.0.4" and row.host_name == "server-a1"
    [event] = sim.events
    assert event["detail"]["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"


def test_abandon_terminates_and_auto_scaling_relaunches_round_after_round(small):
    """No cap: every abandoned launch is replaced, one round per RELAUNCH_ROUND_SECONDS
    of simulated time, for as long as the step's period lasts."""
    aws, world, sim = small
    sim.scale(1)
    report = sim.scale(2, period=600)
    rounds = 600 // sim.relaunch_round_seconds
    assert report.relaunches == rounds and report.simulated_seconds == 600
    assert [reason for _, reason in report.abandoned] == ["pool_exhausted"] * (rounds + 1)
    assert report.gave_up == 1 and report.violations == []
    abandoned = {iid for iid, _ in report.abandoned}
    ec2 = aws.client("ec2")
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=sorted(abandoned))["Reservations"]
        for i in r["Instances"]
    }
    assert set(states.values()) == {"terminated"}
    assert len(group_instances(aws.client("autoscaling"), world.group)) == 1


def test_replacements_go_on_after_a_lost_event_was_repaired(small):
    """A dropped event once made every later settle stop replacing abandoned launches."""
    _aws, _world, sim = small
    sim.drop_next_events(1)
    first = sim.scale(1)
    assert first.launches == 0 and len(sim.dropped) == 1
    assert sim.sweep()["lost_launches_finished"] == 1
    report = sim.scale(2, period=240)
    assert [reason for _, reason in report.abandoned] == ["pool_exhausted"] * 3
    assert report.relaunches == 2 and report.gave_up == 1 and report.violations == []


def test_heartbeat_timeout_applies_the_default_result(aws):
    world = build_world(aws, per_az=1, azs=1, heartbeat_timeout=30)
    # No rule routes this hook's events (another prefix): nobody answers the action.
    sim = Simulation(aws, world, parameters={"HookNamePrefix": "someone-else"})
    start = time.time()
    moto_patches.set_clock(lambda: start + (time.time() - start) * 200)  # 30 s in ~0.15 s
    try:
        report = sim.scale(1, period=0)
    finally:
        moto_patches.set_clock(None)
        sim.close()
    [action] = moto_patches.lifecycle_actions()
    assert action["timed_out"] and action["result"] == "ABANDON"
    assert report.launches == 0 and report.rows == []


def test_scale_in_releases_the_fixed_ip_and_scale_out_reuses_it(aws):
    world = build_world(aws, per_az=2, azs=1, max_size=2)
    sim = Simulation(aws, world, agent_online_after=0.0)
    try:
        sim.scale(2)
        report = sim.scale(1)
        free = [e for e in pool_enis(aws.client("ec2"), world.pool) if e["Status"] == "available"]
        assert len(free) == 1 and report.violations == []
        again = sim.scale(2)
        assert sorted(r.ip for r in again.rows) == ["10.0.0.4", "10.0.0.5"]
        assert again.violations == []
    finally:
        sim.close()


def _run_demo(tmp_path, **kw) -> tuple[int, str]:
    """The demo with its log in the test's own directory (its default, .demo/ in the working
    directory, is the user's)."""
    out = io.StringIO()
    code = demo.run(out=out, log_path=tmp_path / "controller.log", **kw)
    return code, out.getvalue()


def _step(text: str, n: int) -> str:
    """Step `n` of the demo's output, from its header to the next step's."""
    start = text.index(f"== step {n}:")
    end = text.find("== step ", start + 1)
    return text[start : end if end != -1 else len(text)]


@pytest.mark.slow
def test_demo_passes_and_tells_every_step(tmp_path):
    code, text = _run_demo(tmp_path)
    assert code == 0, text
    for n in range(1, 10):
        step = _step(text, n)
        # Each step says what was asked before its table and what happened after it.
        before, _, after = step.partition("INSTANCE ")
        assert len(before.splitlines()) >= 2, step
        assert "result: " in after and "invariants OK" in after, step
    assert "ask for 7 instances" in text and "waiting for an address: i-" in text
    assert "handed it straight to" in text and "no sweeper pass needed" in text
    assert "6 of 6 instances replaced" in text and "addresses kept: yes" in text
    assert "Scale out to 4, and EventBridge loses" in text
    assert "all invariants and expectations held" in text
    assert "VIOLATION" not in text and "UNEXPECTED" not in text
    # The README shows lines of this output: refresh its excerpt when the demo changes.
    assert unseen_excerpt_lines(text) == [], "README.md's demo excerpt is not what the demo prints"


@pytest.mark.slow
def test_demo_shows_the_os_result_of_every_instance(tmp_path):
    """Every table has an OS column; an InService instance shows its interface, its fixed
    address and the policy rule, as the instance's own check reported them."""
    code, text = _run_demo(tmp_path)
    assert code == 0, text
    rows = 0
    for line in text.splitlines():
        if line.startswith("INSTANCE "):
            assert line.split()[-1] == "OS", line
        elif line.startswith("i-") and " InService " in line:
            fields = line.split()
            ip = fields[3]
            assert fields[-4:] == ["ens6", ip, "rule", "ok"], line
            rows += 1
    assert rows >= 30


@pytest.mark.slow
def test_demo_abandons_an_instance_whose_os_cannot_configure_its_address(tmp_path):
    code, text = _run_demo(tmp_path)
    assert code == 0, text
    step = _step(text, 8)
    assert "the new instance's OS cannot configure its address" in step
    assert "controller: 1 CONTINUE, 1 ABANDON (os_address_failed)" in step
    # The script's own message, as the controller's log line carries it.
    assert "Gentoo Linux has none of amazon-ec2-net-utils" in step
    assert "FAILED (none; missing address, rule, table route)" in step
    assert "replacement i-" in step and "got the same address and went InService" in step
    log = [json.loads(line) for line in (tmp_path / "controller.log").read_text().splitlines()]
    abandoned = [
        r
        for r in log
        if r.get("decision") == "lifecycle_completed" and r.get("reason") == "os_address_failed"
    ]
    assert len(abandoned) == 1 and abandoned[0]["result"] == "ABANDON"
    assert "Gentoo Linux has none of" in abandoned[0]["detail"]
    # Replaced: the group's table after the step holds 3 InService instances, none of them it.
    table = [line for line in step.splitlines() if line.startswith("i-")]
    assert len(table) == 3 and all(" InService " in line for line in table)
    assert all(abandoned[0]["instance_id"] not in line for line in table)


@pytest.mark.slow
def test_demo_stops_when_the_controller_continues_without_the_os_address(tmp_path, monkeypatch):
    """A controller that believed the attach rather than the instance's own check would
    let the Gentoo instance go InService without its address: the demo's step 8 says so."""
    real = launch_module.decide

    def believe_the_attach(failure, policy, **kw):
        if getattr(failure, "reason", None) == "os_address_failed":
            return "CONTINUE"
        return real(failure, policy, **kw)

    monkeypatch.setattr(launch_module, "decide", believe_the_attach)
    code, text = _run_demo(tmp_path)
    assert code == 1
    assert "stopping after step 8" in text
    assert "UNEXPECTED" in _step(text, 8)


def test_a_second_demo_in_the_same_process_logs_to_its_own_file(tmp_path):
    """The functions' logger kept the first run's stream: the second run's log lines went
    to the first run's (closed) file. One AZ of one ENI: the demo stops at step 2, soon."""
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        code, _text = _run_demo(tmp_path / run, per_az=1, azs=1)
        assert code == 1
        lines = (tmp_path / run / "controller.log").read_text().splitlines()
        decisions = [json.loads(line).get("decision") for line in lines]
        assert "lifecycle_completed" in decisions, (run, decisions)


@pytest.mark.slow
def test_demo_fails_when_the_controller_continues_on_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(launch_module, "decide", lambda failure, policy, **_: "CONTINUE")
    code, text = _run_demo(tmp_path)
    assert code == 1
    assert "InService without a pool ENI" in text


@pytest.mark.slow
def test_demo_fails_with_the_seed_algorithm(tmp_path, monkeypatch):
    """The seed's user data: everyone takes the lowest free IP, a lost race is fatal."""

    # Bursts of 7 launches, each listing the pool a moment before it attaches (as the
    # article's two CLI calls do): lost races are certain, whatever the machine's load.
    monkeypatch.setattr(launch_module, "default_claim", lambda: SeedClaim(pause_seconds=0.3))
    code, text = _run_demo(tmp_path, per_az=5)
    assert code == 1
    assert "UNEXPECTED" in text
