"""The launch use case on in-memory fakes: every branch of the flow."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from fixed_ip.claim import REFUSAL_PAUSE_SECONDS, REFUSALS_BEFORE_GIVING_UP, spread_order
from fixed_ip.errors import (
    AgentNotOnline,
    AttachRejected,
    BadHostNameTag,
    CommandFailed,
    HostnameFailed,
    InstanceNotReady,
    InvalidEvent,
    OsAddressFailed,
    OutOfTime,
    PoolExhausted,
)
from fixed_ip.launch import ABANDON, CONTINUE, Deps, LaunchUseCase, decide
from fixed_ip.models import LaunchRequest, PoolEni
from fixed_ip.settings import Settings
from tests.fakes import FakeCloud, RecordingObserver

HOSTILE = ["a;reboot", "$(id)", "a" * 300, "", "-lead", "sp ace", "x\nrm -rf /"]


def make(cloud: FakeCloud, **settings) -> LaunchUseCase:
    deps = Deps(compute=cloud, lifecycle=cloud, commands=cloud, clock=cloud.clock)
    return LaunchUseCase(deps, Settings(document="fixed-ip-SetHostname", **settings))


def request(instance_id: str = "i-0000000000000001", pool: str = "web") -> LaunchRequest:
    return LaunchRequest(
        instance_id=instance_id,
        group="web-asg",
        hook="fixed-ip-launch",
        token="tok-" + instance_id,
        pool=pool,
        device_index=1,
    )


def run(cloud: FakeCloud, req: LaunchRequest | None = None, deadline: float = 1e9, **settings):
    obs = RecordingObserver()
    out = make(cloud, **settings).run(req or request(), deadline=deadline, observer=obs)
    return out, obs


@pytest.fixture
def cloud() -> FakeCloud:
    c = FakeCloud()
    c.add_instance("i-0000000000000001")
    c.add_eni("10.0.0.4", "server-a1")
    c.add_eni("10.0.0.5", "server-a2")
    c.add_eni("10.0.1.4", "server-c1", az="az-c")
    return c


def test_happy_path_claims_tags_names_and_continues(cloud):
    out, obs = run(cloud)
    assert (out.result, out.reason, out.completed) == (CONTINUE, "ok", True)
    [eni] = cloud.held_by("i-0000000000000001")
    assert (eni.ip, eni.device_index) == ("10.0.0.4", 1)
    tags = cloud.instances["i-0000000000000001"].tags
    assert tags == {"HostName": "server-a1", "Name": "server-a1"}
    assert cloud.os_hostname["i-0000000000000001"] == "server-a1"
    assert cloud.completed == [("i-0000000000000001", CONTINUE)]
    assert (out.eni_id, out.ip, out.host_name) == (eni.eni_id, "10.0.0.4", "server-a1")
    assert out.az == "az-a"
    assert out.attach_attempts == 1 and out.conflicts == 0 and not out.resumed
    assert "eni_claimed" in obs.decisions() and "os_configured" in obs.decisions()
    assert obs.count("Claims") == 1


def test_already_holding_a_pool_eni_resumes_without_attaching(cloud):
    run(cloud)
    cloud.reactivate("i-0000000000000001")  # a retried event while the action still waits
    cloud.calls.clear()
    out, obs = run(cloud)
    assert out.resumed and out.result == CONTINUE and out.attach_attempts == 0
    assert "attach" not in cloud.calls
    assert len(cloud.held_by("i-0000000000000001")) == 1
    assert "eni_already_held" in obs.decisions()


def test_late_duplicate_of_a_finished_action_changes_nothing(cloud):
    run(cloud)
    cloud.calls.clear()
    out, _ = run(cloud)  # the instance is InService now
    assert (out.result, out.reason) == (None, "action_not_active")
    assert cloud.mutations() == []


def test_late_duplicate_never_attaches_to_an_abandoned_instance(cloud):
    for eni in cloud.enis.values():
        eni.instance_id = "i-someoneelse00001" if eni.az == "az-a" else None
    run(cloud)  # exhausted: ABANDON, the instance terminates
    cloud.instances["i-0000000000000001"].lifecycle = "Terminating"
    cloud.enis[next(iter(cloud.enis))].instance_id = None  # an address comes back
    cloud.calls.clear()
    out, _ = run(cloud)
    assert out.reason == "action_not_active" and cloud.held_by("i-0000000000000001") == []
    assert cloud.mutations() == []


def test_launch_into_the_warm_pool_continues_without_an_eni(cloud):
    out, obs = run(cloud, request().model_copy(update={"to_warm_pool": True}))
    assert (out.result, out.reason) == (CONTINUE, "warm_pool")
    assert cloud.mutations() == ["complete"] and "warm_pool_skipped" in obs.decisions()


def test_instance_not_yet_visible_is_retried_then_given_up(cloud):
    del cloud.instances["i-0000000000000001"]
    fresh = request().model_copy(update={"event_time": cloud.clock.utcnow()})
    with pytest.raises(InstanceNotReady):
        run(cloud, fresh, deadline=cloud.clock.now + 3)
    assert cloud.mutations() == []
    old = request().model_copy(update={"event_time": cloud.clock.utcnow() - timedelta(hours=1)})
    out, _ = run(cloud, old)
    assert (out.result, out.reason) == (ABANDON, "instance_gone")


def test_pending_instance_is_waited_for(cloud):
    inst = cloud.instances["i-0000000000000001"]
    inst.state = "pending"
    real_sleep = cloud.clock.sleep

    def boot(seconds):
        real_sleep(seconds)
        inst.state = "running"

    cloud.clock.sleep = boot
    out, _ = run(cloud)
    assert out.result == CONTINUE and len(cloud.held_by("i-0000000000000001")) == 1


def test_attach_refused_with_the_index_free_abandons(cloud):
    def refuse(eni_id, instance_id):
        raise AttachRejected("InvalidParameterValue")

    cloud.attach_hook = refuse
    out, obs = run(cloud)
    assert (out.result, out.reason) == (ABANDON, "attach_refused")
    # Refused twice, re-read a pause apart each time, before giving up.
    assert cloud.calls.count("attach") == REFUSALS_BEFORE_GIVING_UP
    assert cloud.clock.slept.count(REFUSAL_PAUSE_SECONDS) == REFUSALS_BEFORE_GIVING_UP
    assert "claim_conflict" in obs.decisions()


def test_refusal_by_a_duplicates_attach_not_yet_visible_resumes_from_it(cloud):
    """A duplicate delivery attached at our index first; AWS refuses our attach, but
    Describe* show the duplicate's attachment only a moment later (eventual
    consistency). The re-read after the pause finds it: resume, never ABANDON."""
    iid = "i-0000000000000001"
    theirs = next(e for e in cloud.enis.values() if e.az == "az-a")
    real_sleep = cloud.clock.sleep

    def refuse(eni_id, instance_id):
        raise AttachRejected("InvalidParameterValue")

    def sleep(seconds):
        real_sleep(seconds)
        if seconds >= REFUSAL_PAUSE_SECONDS and theirs.instance_id is None:
            theirs.instance_id, theirs.device_index = iid, 1  # now visible
            cloud.instances[iid].nics[1] = theirs.eni_id

    cloud.attach_hook = refuse
    cloud.clock.sleep = sleep
    out, _ = run(cloud)
    assert (out.result, out.eni_id) == (CONTINUE, theirs.eni_id)
    assert cloud.calls.count("attach") == 1 and cloud.held_by(iid) == [theirs]


def test_pool_eni_at_our_index_not_yet_listed_as_ours_is_resumed(cloud):
    """The instance shows a pool ENI at our device index while the pool listing still
    shows it free (eventual consistency): it is ours, from a duplicate delivery."""
    iid = "i-0000000000000001"
    eni = next(e for e in cloud.enis.values() if e.az == "az-a")
    cloud.instances[iid].nics[1] = eni.eni_id  # listing lags: eni.instance_id is None
    out, _ = run(cloud)
    assert (out.result, out.eni_id) == (CONTINUE, eni.eni_id)
    assert "attach" not in cloud.calls


def test_exhausted_pool_abandons_without_attaching(cloud):
    for eni in cloud.enis.values():
        if eni.az == "az-a":
            eni.instance_id = "i-someoneelse00001"
    out, _ = run(cloud, on_pool_exhausted="ABANDON")
    assert (out.result, out.reason) == (ABANDON, "pool_exhausted")
    assert "attach" not in cloud.calls and "tag_instance" not in cloud.calls
    assert cloud.completed == [("i-0000000000000001", ABANDON)]


def test_unknown_pool_in_this_az_abandons_with_a_named_reason(cloud):
    out, _ = run(cloud, request(pool="db"))
    assert (out.result, out.reason) == (ABANDON, "pool_not_in_az")
    assert "'db'" in out.detail and "az-a" in out.detail
    assert cloud.mutations() == ["complete"]


@pytest.mark.parametrize("state", ["terminated", "shutting-down", None])
def test_instance_gone_abandons(cloud, state):
    if state is None:
        del cloud.instances["i-0000000000000001"]
    else:
        cloud.instances["i-0000000000000001"].state = state
    out, _ = run(cloud)
    assert (out.result, out.reason) == (ABANDON, "instance_gone")
    assert cloud.mutations() == ["complete"]


def test_instance_of_another_group_is_refused_and_untouched(cloud):
    cloud.instances["i-0000000000000001"].group = "other-asg"
    with pytest.raises(InvalidEvent, match="other-asg"):
        run(cloud)
    assert cloud.mutations() == []


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_host_name_tags_are_refused_and_never_used(hostile):
    cloud = FakeCloud()
    cloud.add_instance("i-0000000000000001")
    bad = cloud.add_eni("10.0.0.4", hostile)
    out, obs = run(cloud, on_pool_exhausted="ABANDON")
    assert (out.result, out.reason) == (ABANDON, "pool_exhausted")
    assert bad.instance_id is None
    assert cloud.mutations() == ["complete"]  # no attach, tag or command
    refused = [line for line in obs.lines if line["decision"] == "eni_refused"]
    assert refused and refused[0]["eni_id"] == bad.eni_id
    assert refused[0]["reason"] == "invalid_host_name"


def test_a_hostile_tag_does_not_block_the_good_enis():
    cloud = FakeCloud()
    cloud.add_instance("i-0000000000000001")
    cloud.add_eni("10.0.0.4", "$(id)")
    good = cloud.add_eni("10.0.0.5", "server-a2")
    out, _ = run(cloud)
    assert out.result == CONTINUE and good.instance_id == "i-0000000000000001"


def test_enis_reserved_for_other_groups_are_never_claimed():
    cloud = FakeCloud()
    cloud.add_instance("i-0000000000000001", group="web-asg")
    other = cloud.add_eni("10.0.0.4", "db-1", extra_tags={"fixed-ip:groups": "db-*, batch"})
    mine = cloud.add_eni("10.0.0.5", "web-1", extra_tags={"fixed-ip:groups": "web-* db-*"})
    out, obs = run(cloud)
    assert out.result == CONTINUE and mine.instance_id == "i-0000000000000001"
    assert other.instance_id is None
    [line] = [x for x in obs.lines if x["decision"] == "eni_refused"]
    assert line["reason"] == "group_not_allowed" and line["eni_id"] == other.eni_id
    cloud2 = FakeCloud()
    cloud2.add_instance("i-0000000000000001", group="web-asg")
    cloud2.add_eni("10.0.0.4", "db-1", extra_tags={"fixed-ip:groups": "db-asg"})
    out, _ = run(cloud2, on_pool_exhausted="ABANDON")
    assert (out.result, out.reason) == (ABANDON, "pool_exhausted")
    assert cloud2.mutations() == ["complete"]


def test_held_eni_whose_tag_became_invalid_abandons_before_any_use(cloud):
    run(cloud)
    [eni] = cloud.held_by("i-0000000000000001")
    eni.host_name = "a;reboot"
    cloud.reactivate("i-0000000000000001")
    cloud.calls.clear()
    out, _ = run(cloud)
    assert (out.result, out.reason) == (ABANDON, "invalid_host_name")
    assert cloud.mutations() == ["complete"]


def test_lost_race_is_retried_on_another_eni(cloud):
    cloud.add_instance("i-0000000000000002")
    stolen = []

    def thief(eni_id, instance_id):
        if not stolen:  # another launch attaches our first choice just before us
            stolen.append(eni_id)
            cloud.enis[eni_id].instance_id = "i-0000000000000002"
            cloud.instances["i-0000000000000002"].nics[1] = eni_id

    cloud.attach_hook = thief
    out, obs = run(cloud)
    assert out.result == CONTINUE and out.conflicts == 1 and out.attach_attempts == 2
    [mine] = cloud.held_by("i-0000000000000001")
    assert mine.eni_id != stolen[0]
    assert obs.count("ClaimConflicts") == 1


def test_eni_deleted_between_listing_and_attaching_is_skipped(cloud):
    def delete_first(eni_id, instance_id):
        if cloud.calls.count("attach") == 1:
            del cloud.enis[eni_id]

    cloud.attach_hook = delete_first
    out, _ = run(cloud)
    assert out.result == CONTINUE and out.conflicts == 1
    assert len(cloud.held_by("i-0000000000000001")) == 1


def test_device_index_taken_by_a_duplicate_resumes_with_its_eni(cloud):
    enis = sorted(cloud.enis.values(), key=lambda e: e.ip)

    def duplicate_wins(eni_id, instance_id):
        if cloud.calls.count("attach") == 1:
            # a simultaneous duplicate delivery attached another pool ENI at index 1
            other = next(e for e in enis if e.eni_id != eni_id and e.az == "az-a")
            other.instance_id, other.device_index = instance_id, 1
            cloud.instances[instance_id].nics[1] = other.eni_id

    cloud.attach_hook = duplicate_wins
    out, _ = run(cloud)
    assert out.result == CONTINUE
    assert len(cloud.held_by("i-0000000000000001")) == 1


def test_device_index_used_by_a_non_pool_interface_abandons(cloud):
    cloud.instances["i-0000000000000001"].nics[1] = "eni-from-launch-template"
    out, _ = run(cloud)
    assert (out.result, out.reason) == (ABANDON, "device_index_occupied")
    assert "attach" not in cloud.calls


def test_waits_for_the_ssm_agent_with_heartbeats(cloud):
    cloud.agent_online_at["i-0000000000000001"] = cloud.clock.now + 130
    out, obs = run(cloud, heartbeat_interval_seconds=60)
    assert out.result == CONTINUE
    assert 130 <= out.ssm_wait_seconds <= 135
    assert cloud.heartbeats == ["i-0000000000000001"] * 2
    assert ("SsmWaitSeconds", out.ssm_wait_seconds) in obs.metrics


@pytest.mark.parametrize(
    ("mode", "policy", "result"),
    [
        ("configure", "ABANDON", ABANDON),
        # The address is at stake: never InService unverified, whatever the policy.
        ("configure", "CONTINUE", ABANDON),
        ("verify", "CONTINUE", ABANDON),
        # OsConfiguration skip: only the host name was at stake, the policy decides.
        ("skip", "ABANDON", ABANDON),
        ("skip", "CONTINUE", CONTINUE),
    ],
)
def test_agent_never_online_abandons_unless_only_the_host_name_was_at_stake(
    cloud, mode, policy, result
):
    cloud.agent_online_at["i-0000000000000001"] = None
    out, _ = run(cloud, ssm_wait_seconds=60, on_hostname_failure=policy, os_configuration=mode)
    assert (out.result, out.reason) == (result, "ssm_agent_not_online")
    assert cloud.clock.now - 1000.0 == pytest.approx(60)
    assert len(cloud.held_by("i-0000000000000001")) == 1  # the ENI stays: ABANDON terminates


@pytest.mark.parametrize(
    ("statuses", "reason"),
    [(["InProgress", "Failed"], "command_failed"), (["TimedOut"], "command_timed_out")],
)
def test_command_failure_abandons(cloud, statuses, reason):
    cloud.command_outcome["i-0000000000000001"] = statuses
    out, _ = run(cloud)
    assert (out.result, out.reason) == (ABANDON, reason)
    assert "i-0000000000000001" not in cloud.os_hostname


def test_command_stuck_in_progress_times_out_within_its_budget(cloud):
    cloud.command_outcome["i-0000000000000001"] = ["InProgress", "InProgress"]
    out, _ = run(cloud, command_timeout_seconds=30)
    assert (out.result, out.reason) == (ABANDON, "command_timed_out")
    assert cloud.clock.now - 1000.0 == pytest.approx(30)


def test_action_that_ends_while_waiting_is_left_alone(cloud):
    cloud.agent_online_at["i-0000000000000001"] = None
    cloud.active.discard("i-0000000000000001")  # completed by someone else / timed out
    out, _ = run(cloud, heartbeat_interval_seconds=10)
    assert out.result is None and out.reason == "action_not_active"
    assert "complete" not in cloud.calls


def test_invocation_deadline_raises_for_a_retry_without_completing(cloud):
    cloud.agent_online_at["i-0000000000000001"] = None
    with pytest.raises(OutOfTime):
        run(cloud, deadline=cloud.clock.now + 20, ssm_wait_seconds=300)
    assert "complete" not in cloud.calls
    # the retry resumes: same ENI, no second attach
    cloud.agent_online_at["i-0000000000000001"] = 0.0
    out, _ = run(cloud)
    assert out.resumed and out.result == CONTINUE
    assert cloud.calls.count("attach") == 1


def test_completion_of_an_action_no_longer_active_is_not_an_error(cloud):
    cloud.active.discard("i-0000000000000001")
    out, _ = run(cloud)
    assert out.result == CONTINUE and out.completed is False


def test_decide_is_the_single_policy():
    assert decide(None, "ABANDON") == CONTINUE
    assert decide(PoolExhausted("x"), "CONTINUE") == ABANDON
    assert decide(BadHostNameTag("x"), "CONTINUE") == ABANDON
    assert decide(AgentNotOnline("x"), "ABANDON") == ABANDON
    # The address not verified: ABANDON whatever the host-name policy says.
    assert decide(CommandFailed("x"), "CONTINUE") == ABANDON
    assert decide(OsAddressFailed("x"), "CONTINUE") == ABANDON
    # Only the host name failed: the policy.
    assert decide(CommandFailed("x", only_host_name=True), "CONTINUE") == CONTINUE
    assert decide(HostnameFailed("x"), "CONTINUE") == CONTINUE
    assert decide(HostnameFailed("x"), "ABANDON") == ABANDON


def _enis(n: int) -> list[PoolEni]:
    return [
        PoolEni(f"eni-{i:03d}", f"10.0.0.{i + 4}", "az-a", "s", "v", "available", f"h{i}")
        for i in range(n)
    ]


def test_spread_order_gives_concurrent_launches_distinct_first_choices():
    waiting = [f"i-{i:017x}" for i in range(40)]
    free = _enis(40)
    firsts = {spread_order(i, waiting, free)[0].eni_id for i in waiting}
    assert len(firsts) == 40
    order = spread_order(waiting[3], waiting, free)
    assert sorted(e.eni_id for e in order) == sorted(e.eni_id for e in free)
    assert order == spread_order(waiting[3], list(reversed(waiting)), list(reversed(free)))


def test_spread_order_beyond_the_free_count_uses_a_per_instance_hash_order():
    waiting = [f"i-{i:017x}" for i in range(10)]
    free = _enis(3)
    late = [spread_order(i, waiting, free)[0].eni_id for i in waiting[3:]]
    assert len(set(late)) > 1  # not everyone on the lowest IP


def test_thirty_concurrent_launches_on_fakes_each_get_their_own_eni():
    cloud = FakeCloud()
    ids = [f"i-{i:017x}" for i in range(30)]
    for i in ids:
        cloud.add_instance(i)
    for n in range(30):
        cloud.add_eni(f"10.0.0.{n + 4}", f"server-{n}")
    use_case = make(cloud)
    outs = {}

    def go(iid):
        outs[iid] = use_case.run(request(iid), deadline=1e9, observer=RecordingObserver())

    threads = [threading.Thread(target=go, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outs) == 30 and all(o.result == CONTINUE for o in outs.values())
    holders = [e.instance_id for e in cloud.enis.values()]
    assert sorted(holders) == sorted(ids)
