"""Pool exhausted: the WAIT policy (Pending:Wait kept alive, bounded, served by the release
path and the sweeper, longest-waiting first) and the ABANDON policy, on in-memory fakes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from fixed_ip.controller import LaunchController, run_invocation
from fixed_ip.decision import ABANDON, CONTINUE, WAIT, WAITING, decide
from fixed_ip.errors import CommandFailed, InvalidMetadata, PoolExhausted
from fixed_ip.launch import Deps, LaunchUseCase
from fixed_ip.models import HookMetadata, LaunchRequest, TerminateRequest
from fixed_ip.observability import PowertoolsObserver
from fixed_ip.settings import Settings
from fixed_ip.sweeper import SweeperUseCase
from fixed_ip.terminate import TerminateUseCase
from tests.fakes import NOW, FakeCloud, RecordingObserver
from tests.helpers import LogCapture, launch_event

HOLDER = "i-00000000000000a01"
WAITER = "i-00000000000000b01"
LATER = "i-00000000000000b02"
OTHER_AZ = "i-00000000000000c01"


def deps(cloud: FakeCloud) -> Deps:
    return Deps(compute=cloud, lifecycle=cloud, commands=cloud, clock=cloud.clock)


def settings(**kw) -> Settings:
    return Settings(document="doc", **kw)


def request(instance_id: str = WAITER, **kw) -> LaunchRequest:
    return LaunchRequest(
        instance_id=instance_id,
        group="web-asg",
        hook="fixed-ip-launch",
        token="tok-" + instance_id,
        pool="web-asg",
        device_index=1,
        **kw,
    )


def full_az(*waiters: tuple[str, int]) -> FakeCloud:
    """One ENI in az-a, held by HOLDER (Terminating:Wait when released); each waiter
    (id, seconds since its launch) in Pending:Wait in az-a."""
    cloud = FakeCloud()
    cloud.add_group(max_size=2)
    eni = cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    cloud.add_instance(HOLDER, lifecycle="InService")
    cloud.active.discard(HOLDER)
    eni.instance_id, eni.device_index = HOLDER, 1
    cloud.instances[HOLDER].nics[1] = eni.eni_id
    for iid, age in waiters:
        cloud.add_instance(iid, launch_time=NOW - timedelta(seconds=age))
    return cloud


def launch(cloud: FakeCloud, req: LaunchRequest | None = None, **kw):
    obs = RecordingObserver()
    out = LaunchUseCase(deps(cloud), settings(**kw)).run(
        req or request(), deadline=1e9, observer=obs
    )
    return out, obs


# --- the decision -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "waited", "bound", "expected"),
    [
        (WAIT, 10, 3600, None),
        (WAIT, 3599, 3600, None),
        (WAIT, 3600, 3600, ABANDON),
        (WAIT, 0, 0, ABANDON),
        (ABANDON, 10, 3600, ABANDON),
    ],
)
def test_decide_waits_only_for_an_exhausted_pool_under_wait_within_the_bound(
    policy, waited, bound, expected
):
    got = decide(
        PoolExhausted("x"),
        "ABANDON",
        on_exhausted=policy,
        waited_seconds=waited,
        wait_bound_seconds=bound,
    )
    assert got == expected
    # Any other failure never waits, whatever the policy.
    other = decide(CommandFailed("x"), "ABANDON", on_exhausted=WAIT, wait_bound_seconds=3600)
    assert other == ABANDON


def test_the_default_policy_is_wait():
    assert settings().on_pool_exhausted == WAIT
    assert settings().wait_for_address_seconds == 3600


# --- the launch path ----------------------------------------------------------------------


def test_exhausted_pool_under_wait_completes_nothing_and_keeps_the_hook_alive():
    cloud = full_az((WAITER, 30))
    out, obs = launch(cloud)
    assert (out.result, out.reason, out.completed) == (None, WAITING, False)
    assert cloud.completed == [] and cloud.heartbeats == [WAITER]
    assert "attach" not in cloud.calls and "tag_instance" not in cloud.calls
    [line] = [x for x in obs.lines if x["decision"] == WAITING]
    assert (line["az"], line["pool"], line["waited_seconds"]) == ("az-a", "web-asg", 30)
    assert line["wait_bound_seconds"] == 3600


def test_a_wait_that_reached_its_bound_abandons_pool_exhausted():
    cloud = full_az((WAITER, 3700))
    out, _ = launch(cloud)
    assert (out.result, out.reason, out.completed) == (ABANDON, "pool_exhausted", True)
    assert cloud.completed == [(WAITER, ABANDON)] and cloud.heartbeats == []
    assert "bound 3600s" in out.detail


def test_the_hooks_metadata_overrides_the_stacks_policy():
    cloud = full_az((WAITER, 30))
    out, _ = launch(cloud, request(on_exhausted="ABANDON"))
    assert (out.result, out.reason) == (ABANDON, "pool_exhausted")
    cloud = full_az((WAITER, 30))
    out, _ = launch(cloud, request(on_exhausted="WAIT"), on_pool_exhausted="ABANDON")
    assert (out.result, out.reason) == (None, WAITING)


@pytest.mark.parametrize("value", ["wait", "RETRY", True, 1, ""])
def test_a_bad_on_exhausted_value_is_refused_naming_the_key(value):
    with pytest.raises(InvalidMetadata, match="on_exhausted"):
        HookMetadata.from_notification(json.dumps({"on_exhausted": value}))
    assert HookMetadata.from_notification('{"on_exhausted": "WAIT"}').on_exhausted == WAIT


def test_a_waiting_action_that_ended_meanwhile_is_reported_not_waiting():
    cloud = full_az((WAITER, 30))
    cloud.active.discard(WAITER)  # its hook timed out, or it was completed elsewhere
    out, _ = launch(cloud)
    assert (out.result, out.reason, out.completed) == (None, "action_not_active", False)


def test_the_controller_logs_a_waiting_final_line_and_no_completion():
    cloud = full_az((WAITER, 30))
    s = settings()
    controller = LaunchController(LaunchUseCase(deps(cloud), s), s, cloud.clock)
    logs, emf = LogCapture(), []
    observer = PowertoolsObserver(logs.logger, sink=emf.append)
    event = launch_event(WAITER, "web-asg", "5a1b2c3d-0000-4000-8000-00000000beef")
    result = run_invocation(event, 300_000, observer, lambda: controller)
    assert result["decision"] == "lifecycle_waiting" and "result" not in result
    assert result["reason"] == WAITING
    [final] = logs.decisions("lifecycle_waiting")
    assert final["level"] == "WARNING" and final["instance_id"] == WAITER
    assert logs.decisions(WAITING) and not logs.decisions("lifecycle_completed")
    blobs = [json.loads(b) for b in emf]
    names = {m["Name"] for b in blobs for m in b["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert "PoolExhausted" in names and "ActionsNotActive" not in names
    assert "Abandons" not in names


# --- the release path serves the queue ----------------------------------------------------


def terminate(cloud: FakeCloud, serve: bool = True, **kw):
    s = settings(**kw)
    obs = RecordingObserver()
    cloud.instances[HOLDER].lifecycle = "Terminating:Wait"
    cloud.active.add(HOLDER)
    use_case = TerminateUseCase(deps(cloud), s, LaunchUseCase(deps(cloud), s) if serve else None)
    req = TerminateRequest(
        instance_id=HOLDER, group="web-asg", hook="fixed-ip-terminate", token="t"
    )
    return use_case.run(req, deadline=1e9, observer=obs), obs


def test_a_release_hands_the_address_to_the_longest_waiting_instance_of_its_az():
    cloud = full_az((LATER, 60), (WAITER, 300))
    cloud.add_instance(OTHER_AZ, az="az-c", launch_time=NOW - timedelta(seconds=900))
    out, obs = terminate(cloud)
    assert out.completed and out.released
    # The terminating action first, then the waiting instance, by instance id.
    assert cloud.completed == [(HOLDER, CONTINUE), (WAITER, CONTINUE)]
    assert cloud.completed_tokens[-1] is None
    assert [e.ip for e in cloud.held_by(WAITER)] == ["10.0.0.4"]
    assert cloud.held_by(LATER) == [] and cloud.held_by(OTHER_AZ) == []
    assert out.served == [(WAITER, CONTINUE)]
    [line] = [x for x in obs.lines if x["decision"] == "waiting_instance_served"]
    assert (line["instance_id"], line["ip"], line["waited_seconds"]) == (WAITER, "10.0.0.4", 300)
    assert ("Continues", 1, {"Pool": "web-asg"}) in obs.dimensioned


def test_a_release_skips_an_instance_in_the_middle_of_its_own_launch():
    """LATER launched first but already holds an interface at the device index (its own
    launch is at its SSM step): the freed address goes to WAITER, and LATER gets no
    second command."""
    cloud = full_az((LATER, 900), (WAITER, 300))
    spare = cloud.add_eni("10.0.0.9", "server-a9", pool="web-asg")
    spare.instance_id, spare.device_index = LATER, 1
    cloud.instances[LATER].nics[1] = spare.eni_id
    out, _ = terminate(cloud)
    assert out.served == [(WAITER, CONTINUE)]
    assert [e.ip for e in cloud.held_by(WAITER)] == ["10.0.0.4"]
    assert [iid for iid, _ in cloud.commands.values()] == [WAITER]


def test_a_release_with_nobody_waiting_reads_no_hooks():
    cloud = full_az()
    out, _ = terminate(cloud)
    assert out.released and out.served == [] and cloud.completed == [(HOLDER, CONTINUE)]
    assert "waiting_instances" in cloud.calls and "managed_groups" not in cloud.calls


def test_a_release_serves_nobody_under_abandon_or_without_the_launch_path():
    for kw in ({"on_pool_exhausted": "ABANDON"}, {"serve": False}):
        cloud = full_az((WAITER, 300))
        out, _ = terminate(cloud, **kw)
        assert out.released and out.served == []
        assert cloud.completed == [(HOLDER, CONTINUE)] and cloud.held_by(WAITER) == []


# --- the sweeper serves and keeps the queue alive -----------------------------------------


def sweep(cloud: FakeCloud, **kw):
    s = settings(**kw)
    obs = RecordingObserver()
    report = SweeperUseCase(deps(cloud), s, LaunchUseCase(deps(cloud), s)).run(
        now=NOW, deadline=1e9, observer=obs
    )
    return report, obs


def test_the_sweeper_heartbeats_a_recent_waiting_instance_and_publishes_the_gauge():
    cloud = full_az((WAITER, 120))
    report, obs = sweep(cloud)
    assert cloud.heartbeats == [WAITER] and cloud.completed == []
    assert report.waiting == [WAITER] and report.lost_launches == []
    gauge = {d["AZ"]: v for n, v, d in obs.dimensioned if n == "WaitingForAddress"}
    assert gauge == {"az-a": 1, "az-c": 0}
    [line] = [x for x in obs.lines if x["decision"] == WAITING]
    assert line["heartbeat"] is True and line["waited_seconds"] == 120


def test_the_sweeper_keeps_an_older_waiting_instance_waiting_through_the_launch_path():
    cloud = full_az((WAITER, 1200))  # older than the lost-launch grace (600 s)
    report, _ = sweep(cloud)
    assert cloud.heartbeats == [WAITER] and cloud.completed == []
    assert report.waiting == [WAITER]


def test_the_sweeper_serves_the_longest_waiting_when_an_address_is_free():
    cloud = full_az((LATER, 700), (WAITER, 1200))
    cloud.detach(f"attach-{cloud.held_by(HOLDER)[0].eni_id}")  # freed outside our release
    report, _ = sweep(cloud)
    assert report.lost_launches == [(WAITER, CONTINUE)]
    assert cloud.held_by(WAITER) and cloud.held_by(LATER) == []
    assert report.waiting == [LATER]


def test_a_leaked_address_goes_to_the_waiting_instance_in_the_same_pass():
    """The holder died without its terminate event: the pass releases its ENI first, then
    serves the instance waiting for an address (not the next launch to come along)."""
    cloud = full_az((WAITER, 1200))
    cloud.instances[HOLDER].state = "terminated"
    cloud.instances[HOLDER].lifecycle = "Terminated"
    cloud.instances[HOLDER].state_changed_at = NOW - timedelta(hours=1)
    report, _ = sweep(cloud)
    assert report.released and report.lost_launches == [(WAITER, CONTINUE)]
    assert [e.ip for e in cloud.held_by(WAITER)] == ["10.0.0.4"] and report.waiting == []


def test_an_unusable_free_address_does_not_pass_for_one():
    """The AZ's only "free" ENI has an invalid host name: the recent waiting instance
    still gets its heartbeat (it is not left to a launch that cannot claim anything)."""
    cloud = full_az((WAITER, 120))
    cloud.add_eni("10.0.0.9", "$(reboot)", pool="web-asg")
    report, _ = sweep(cloud)
    assert cloud.heartbeats == [WAITER] and report.waiting == [WAITER]


def test_the_sweeper_ends_a_wait_at_its_bound():
    cloud = full_az((WAITER, 200))
    report, _ = sweep(cloud, wait_for_address_seconds=180)
    assert cloud.completed == [(WAITER, ABANDON)]
    assert report.lost_launches == [(WAITER, ABANDON)] and report.waiting == []


def test_under_abandon_the_sweeper_leaves_recent_launches_alone():
    cloud = full_az((WAITER, 120))
    report, _ = sweep(cloud, on_pool_exhausted="ABANDON")
    assert cloud.heartbeats == [] and cloud.completed == [] and report.waiting == []


def test_a_released_address_claimed_at_once_by_another_launch_ends_the_release_wait():
    """A launch may attach the released ENI before the release path sees it available:
    the ENI has left the terminating instance, so the release is done (it used to wait
    out release_wait_seconds and end release_pending)."""
    cloud = full_az()
    cloud.add_instance(WAITER, launch_time=NOW - timedelta(seconds=5))
    real = cloud.describe_enis

    def grabbed(ids):
        for e in cloud.enis.values():
            if e.instance_id is None and WAITER not in {x.instance_id for x in cloud.enis.values()}:
                e.instance_id, e.device_index = WAITER, 1
                cloud.instances[WAITER].nics[1] = e.eni_id
        return real(ids)

    cloud.describe_enis = grabbed
    out, _ = terminate(cloud)
    assert (out.reason, out.pending, out.completed) == ("ok", [], True)
    assert cloud.clock.slept == [] and len(out.released) == 1


def test_a_launch_run_by_id_reports_as_the_launch_function_does():
    """The release path and the sweeper run the launch path through the hook's
    observer_for: its metrics carry the Pool dimension (the Abandons alarm's), every line
    the instance, group, hook and pool, and a line's own fields win."""
    from fixed_ip.waiting import LaunchHookOf

    hook = LaunchHookOf("web-asg", "fixed-ip-launch", "web", HookMetadata(), WAIT)
    inner = RecordingObserver()
    scoped = hook.observer_for(inner, "i-0000000000000009")
    scoped.metric("Abandons")
    scoped.metric("PoolFree", 2, dimensions={"Pool": "web", "AZ": "az-a"})
    scoped.decision("eni_claimed", eni_id="eni-1", pool="web")
    assert inner.dimensioned == [
        ("Abandons", 1, {"Pool": "web"}),
        ("PoolFree", 2, {"Pool": "web", "AZ": "az-a"}),
    ]
    assert inner.lines == [
        {
            "decision": "eni_claimed",
            "level": "info",
            "instance_id": "i-0000000000000009",
            "group": "web-asg",
            "hook": "fixed-ip-launch",
            "pool": "web",
            "eni_id": "eni-1",
        }
    ]
