"""Fault injection on the LaunchFunction of template.yaml (moto + fidelity patches): the
faults real AWS produces, injected at the HTTP layer so botocore's own retries run.
Each test asserts the lifecycle result and that no pool ENI leaks or is double-held.

The sweeper running in the middle of a launch is the last group here (a pass at each step
of the launch, deterministically); tests/integration/test_release_and_sweeper.py also
races the two in a loop.
"""

from __future__ import annotations

import copy
import time

import pytest
from botocore.exceptions import ClientError

from fixed_ip_local import faults, moto_patches
from fixed_ip_local.events import scheduled_event
from fixed_ip_local.faults import Call
from fixed_ip_local.world import build_world
from tests.faults.checks import (
    action_of,
    ec2_state,
    finals,
    held,
    lifecycle_state,
    pool_problems,
)

EC2_THROTTLED = [
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:AttachNetworkInterface",
    "ec2:CreateTags",
]
EVERY_LAUNCH_CALL = [
    *EC2_THROTTLED,
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:CompleteLifecycleAction",
    "ec2:DescribeSubnets",
    "ssm:SendCommand",
    "ssm:GetCommandInvocation",
]
# The functions' botocore config says max_attempts 10: botocore reads that as 10 retries,
# 11 attempts in all (total_max_attempts = max_attempts + 1).
MAX_ATTEMPTS = 11


def scale(aws, world, desired: int) -> None:
    aws.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=world.group, DesiredCapacity=desired
    )


def pending(aws, events, n: int = 1, per_az: int = 3) -> tuple:
    """A world of one AZ with `per_az` pool ENIs and `n` instances in Pending:Wait."""
    world = build_world(aws, per_az=per_az, azs=1, max_size=6)
    scale(aws, world, n)
    assert len(events) == n
    return world, [e["detail"]["EC2InstanceId"] for e in events]


def assert_sound(aws, world, **kw) -> None:
    assert pool_problems(aws, world.group, world.pool, **kw) == []


def eni_of(call: Call) -> str:
    return call.params["NetworkInterfaceId"]


# --- Throttling --------------------------------------------------------------------------


@pytest.mark.parametrize("operation", EC2_THROTTLED)
def test_ec2_throttling_burst_is_retried_and_the_launch_completes(
    aws, events, make_runner, plan, operation
):
    world, [iid] = pending(aws, events)
    plan.throttle(operation, times=3)
    result = make_runner().invoke(events[0])
    assert (result["result"], result["reason"]) == ("CONTINUE", "ok")
    assert plan.count(operation, "RequestLimitExceeded") == 3
    assert plan.requests(operation) == 4  # botocore's retries, not the controller's
    assert len(plan.delays) == 3 and all(d <= 2**i for i, d in enumerate(plan.delays))
    assert result["attach_attempts"] == 1 and result["conflicts"] == 0
    assert lifecycle_state(aws, iid) == "InService"
    assert len(held(aws, world.pool)[iid]) == 1
    assert_sound(aws, world)


def test_every_call_of_a_launch_throttled_twice(aws, events, make_runner, plan):
    world, [iid] = pending(aws, events)
    for operation in EVERY_LAUNCH_CALL:
        plan.throttle(operation, times=2)
    result = make_runner().invoke(events[0])
    assert result["result"] == "CONTINUE"
    assert {op: plan.count(op) for op in EVERY_LAUNCH_CALL} == dict.fromkeys(EVERY_LAUNCH_CALL, 2)
    assert lifecycle_state(aws, iid) == "InService"
    assert_sound(aws, world)


@pytest.mark.parametrize(
    ("operation", "resumed"),
    [("ec2:AttachNetworkInterface", False), ("ec2:CreateTags", True)],
)
def test_throttling_beyond_botocore_retries_fails_the_invocation_and_the_retry_resumes(
    aws, events, make_runner, plan, operation, resumed
):
    """Throttled on every attempt: the invocation raises (Lambda retries the event), and
    the retried event resumes from whatever the first attempt achieved."""
    world, [iid] = pending(aws, events)
    runner = make_runner()
    plan.throttle(operation, times=MAX_ATTEMPTS)
    with pytest.raises(Exception, match="RequestLimitExceeded"):
        runner.invoke(events[0])
    assert plan.requests(operation) == MAX_ATTEMPTS
    [error] = runner.logs.decisions("error")
    assert error["aws_error"] == "RequestLimitExceeded" and error["instance_id"] == iid
    assert lifecycle_state(aws, iid) == "Pending:Wait"
    assert_sound(aws, world)  # an attached-but-untagged ENI is still its own

    again = runner.invoke(copy.deepcopy(events[0]))
    assert (again["result"], again["resumed"]) == ("CONTINUE", resumed)
    assert plan.requests("ec2:AttachNetworkInterface") == (
        MAX_ATTEMPTS + 1 if operation == "ec2:AttachNetworkInterface" else 1
    )
    assert len(held(aws, world.pool)[iid]) == 1
    assert_sound(aws, world)


def test_attach_applied_but_its_response_lost(aws, events, make_runner, plan):
    """AWS attached the ENI but the answer never came (500): botocore retries, AWS says
    InUse, and the controller finds the ENI is its own instead of claiming a second."""
    world, [iid] = pending(aws, events)
    ec2 = aws.client("ec2")

    def apply_it(call: Call) -> None:
        ec2.attach_network_interface(NetworkInterfaceId=eni_of(call), InstanceId=iid, DeviceIndex=1)

    plan.fail("ec2:AttachNetworkInterface", "InternalError", status=500, action=apply_it)
    result = make_runner().invoke(events[0])
    assert result["result"] == "CONTINUE"
    assert plan.requests("ec2:AttachNetworkInterface") == 2  # the retry met InUse
    assert result["conflicts"] == 1
    assert len(held(aws, world.pool)[iid]) == 1
    assert_sound(aws, world)


# --- Lost races, vanishing ENIs and instances --------------------------------------------


def test_lost_race_for_an_eni_retargets_another(aws, events, make_runner, plan):
    """A rival attaches the very ENI this launch aims at, just before its attach."""
    world, [me, rival] = pending(aws, events, n=2)
    ec2 = aws.client("ec2")

    def rival_takes_it(call: Call) -> None:
        ec2.attach_network_interface(
            NetworkInterfaceId=eni_of(call), InstanceId=rival, DeviceIndex=1
        )

    plan.before(
        "ec2:AttachNetworkInterface",
        rival_takes_it,
        when=lambda call: call.params["InstanceId"] == me,
    )
    runner = make_runner()
    mine = runner.invoke(events[0])
    assert (mine["result"], mine["attach_attempts"], mine["conflicts"]) == ("CONTINUE", 2, 1)
    [conflict] = runner.logs.decisions("claim_conflict")
    assert conflict["reason"] == "eni_in_use" and conflict["instance_id"] == me
    theirs = runner.invoke(events[1])  # the rival's own event finds its ENI attached
    assert (theirs["result"], theirs["resumed"]) == ("CONTINUE", True)
    holders = held(aws, world.pool)
    assert len(holders[me]) == len(holders[rival]) == 1
    assert holders[me] != holders[rival]
    assert_sound(aws, world)


def test_every_eni_stolen_until_the_pool_is_exhausted(aws, events, make_runner, plan):
    """Two ENIs, three launches; rivals win every race of the first launch: it re-reads,
    retargets, and ABANDONs pool_exhausted when nothing is left, never looping on."""
    world, [me, *rivals] = pending(aws, events, n=3, per_az=2)
    ec2 = aws.client("ec2")
    queue = list(rivals)

    def steal(call: Call) -> None:
        ec2.attach_network_interface(
            NetworkInterfaceId=eni_of(call), InstanceId=queue.pop(0), DeviceIndex=1
        )

    plan.before(
        "ec2:AttachNetworkInterface",
        steal,
        times=2,
        when=lambda call: call.params["InstanceId"] == me,
    )
    runner = make_runner(OnPoolExhausted="ABANDON")
    result = runner.invoke(events[0])
    assert (result["result"], result["reason"]) == ("ABANDON", "pool_exhausted")
    assert (result["attach_attempts"], result["conflicts"]) == (2, 2)
    assert ec2_state(aws, me) in {"shutting-down", "terminated"}
    for event in events[1:]:
        assert runner.invoke(event)["result"] == "CONTINUE"
    assert sorted(held(aws, world.pool)) == sorted(rivals)
    assert_sound(aws, world)


def test_eni_deleted_between_listing_and_attaching(aws, events, make_runner, plan):
    world, [iid] = pending(aws, events)
    ec2 = aws.client("ec2")
    deleted: list[str] = []

    def delete_it(call: Call) -> None:
        deleted.append(eni_of(call))
        ec2.delete_network_interface(NetworkInterfaceId=eni_of(call))

    plan.before("ec2:AttachNetworkInterface", delete_it)
    runner = make_runner()
    result = runner.invoke(events[0])
    assert (result["result"], result["conflicts"], result["attach_attempts"]) == ("CONTINUE", 1, 2)
    assert result["eni_id"] != deleted[0]
    [conflict] = runner.logs.decisions("claim_conflict")
    assert (conflict["eni_id"], conflict["reason"]) == (deleted[0], "eni_gone")
    assert held(aws, world.pool)[iid] == [result["eni_id"]]
    assert_sound(aws, world)


def test_instance_terminated_just_before_the_attach(aws, events, make_runner, plan):
    world, [iid] = pending(aws, events)
    ec2 = aws.client("ec2")
    plan.before(
        "ec2:AttachNetworkInterface", lambda call: ec2.terminate_instances(InstanceIds=[iid])
    )
    runner = make_runner()
    result = runner.invoke(events[0])
    # The termination ended the action; nothing was attached to the dead instance.
    assert result["decision"] == "lifecycle_not_active"
    assert result["result"] == "ABANDON" and result["reason"] == "instance_gone"
    assert action_of(iid)["state"] == "cancelled"
    assert held(aws, world.pool) == {}
    assert_sound(aws, world)


def test_instance_terminated_right_after_the_attach(aws, events, make_runner, plan):
    """Terminated once it holds the ENI: AWS releases the ENI; the controller, finding no
    agent, gives up within its SSM budget and changes nothing more."""
    world, [iid] = pending(aws, events)
    ec2 = aws.client("ec2")
    plan.before("ec2:CreateTags", lambda call: ec2.terminate_instances(InstanceIds=[iid]))
    result = make_runner(SsmWaitSeconds="1").invoke(events[0])
    assert result["decision"] == "lifecycle_not_active"
    assert result["result"] == "ABANDON"
    assert held(aws, world.pool) == {}  # released with the instance (invariant 4)
    assert_sound(aws, world)


# --- SSM ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "policy", "result"),
    [
        ("configure", "ABANDON", "ABANDON"),
        # The fixed address is at stake: ABANDON whatever the host-name policy says.
        ("configure", "CONTINUE", "ABANDON"),
        # OsConfiguration skip: only the host name was at stake, the policy decides.
        ("skip", "CONTINUE", "CONTINUE"),
    ],
)
def test_ssm_agent_never_online(aws, events, make_runner, mode, policy, result):
    moto_patches.set_auto_register(None)
    world, [iid] = pending(aws, events)
    runner = make_runner(SsmWaitSeconds="1", OnHostnameFailure=policy, OsConfiguration=mode)
    started = time.monotonic()
    outcome = runner.invoke(events[0])
    assert time.monotonic() - started < 10
    assert (outcome["result"], outcome["reason"]) == (result, "ssm_agent_not_online")
    assert moto_patches.os_hostname(iid) is None
    [final] = runner.logs.decisions("lifecycle_completed")
    assert final["level"] == "WARNING" and "not registered" in final["detail"]
    if result == "ABANDON":
        assert held(aws, world.pool) == {}  # terminated: its ENI is free again
        assert_sound(aws, world)
    else:
        # The operator chose skip and CONTINUE: the instance serves with its ENI,
        # without its OS host name (the one exception invariant 2 allows).
        assert lifecycle_state(aws, iid) == "InService"
        assert len(held(aws, world.pool)[iid]) == 1
        assert_sound(aws, world, os_hostnames=False)


@pytest.mark.parametrize(
    ("status", "reason", "said"),
    [
        ("Failed", "command_failed", "ended Failed"),
        ("TimedOut", "command_timed_out", "timed out"),
        ("Cancelled", "command_failed", "ended Cancelled"),
    ],
)
def test_host_name_command_does_not_succeed(aws, events, make_runner, status, reason, said):
    world, [iid] = pending(aws, events)
    moto_patches.set_command_outcome(iid, status, delay_seconds=0.2)
    result = make_runner().invoke(events[0])
    assert (result["result"], result["reason"]) == ("ABANDON", reason)
    assert said in result["detail"] and iid in result["detail"]
    assert ec2_state(aws, iid) in {"shutting-down", "terminated"}
    assert held(aws, world.pool) == {}
    assert_sound(aws, world)


# --- The lifecycle action ----------------------------------------------------------------


def test_complete_answers_no_active_lifecycle_action(aws, events, make_runner, plan):
    """Another delivery completed the action first: "No active Lifecycle Action found"
    means the work is done; no error, no retry, a metric."""
    world, [iid] = pending(aws, events)
    autoscaling = aws.client("autoscaling")
    detail = events[0]["detail"]

    def someone_completes_first(call: Call) -> None:
        autoscaling.complete_lifecycle_action(
            AutoScalingGroupName=detail["AutoScalingGroupName"],
            LifecycleHookName=detail["LifecycleHookName"],
            LifecycleActionToken=detail["LifecycleActionToken"],
            LifecycleActionResult="CONTINUE",
        )

    plan.before("autoscaling:CompleteLifecycleAction", someone_completes_first)
    runner = make_runner()
    result = runner.invoke(events[0])
    assert (result["decision"], result["result"]) == ("lifecycle_not_active", "CONTINUE")
    assert plan.requests("autoscaling:CompleteLifecycleAction") == 1  # not retried
    assert runner.logs.decisions("error") == []
    assert lifecycle_state(aws, iid) == "InService"
    assert_sound(aws, world)


def test_hook_times_out_while_waiting_for_the_agent(aws, events, make_runner, plan):
    """The hook's heartbeat timeout passes while the controller waits for the agent: AWS
    applies the DefaultResult (ABANDON, the instance goes, its ENI comes back); the
    controller's completion then finds no active action and changes nothing."""
    moto_patches.set_auto_register(None)
    world, [iid] = pending(aws, events)

    def hook_times_out(call: Call) -> None:
        later = time.time() + 3600
        moto_patches.set_clock(lambda: later)
        moto_patches.expire_lifecycle_actions()

    plan.before("ssm:SendCommand", hook_times_out)
    result = make_runner(SsmWaitSeconds="1").invoke(events[0])
    assert result["decision"] == "lifecycle_not_active"
    assert action_of(iid)["timed_out"] is True and action_of(iid)["result"] == "ABANDON"
    assert held(aws, world.pool) == {}
    assert_sound(aws, world)


# --- The function stopped half way ------------------------------------------------------


def test_invocation_out_of_time_and_the_retried_event_resumes(aws, events, make_runner):
    """Too little time left to wait for the agent: the invocation says so and raises
    (Lambda retries), and the retry resumes from the ENI it already holds."""
    moto_patches.set_auto_register(None)
    world, [iid] = pending(aws, events)
    runner = make_runner()
    reserve = float(runner.function.environment.get("FIXED_IP_DEADLINE_RESERVE_SECONDS", 10))
    with pytest.raises(Exception, match="retry resumes"):
        runner.invoke(events[0], timeout=reserve + 0.5)
    [retry] = runner.logs.decisions("retry_later")
    assert retry["reason"] == "out_of_time" and retry["instance_id"] == iid
    [first_eni] = held(aws, world.pool)[iid]
    assert lifecycle_state(aws, iid) == "Pending:Wait"

    moto_patches.register_managed_instance(iid)
    again = runner.invoke(copy.deepcopy(events[0]))
    assert (again["result"], again["resumed"], again["attach_attempts"]) == ("CONTINUE", True, 0)
    assert held(aws, world.pool)[iid] == [first_eni]
    assert moto_patches.os_hostname(iid) == again["host_name"]
    assert_sound(aws, world)


@pytest.mark.parametrize(
    "killed_before",
    [
        "ec2:CreateTags",
        "ssm:SendCommand",
        "ssm:GetCommandInvocation",
        "autoscaling:CompleteLifecycleAction",
    ],
)
def test_sandbox_killed_half_way_and_the_retried_event_resumes(
    aws, events, make_runner, plan, killed_before
):
    """The sandbox dies (Lambda timeout) at each step after the claim; the retried event
    completes the launch on the same ENI, attaching nothing more."""
    world, [iid] = pending(aws, events)
    plan.before(killed_before, faults.kill)
    runner = make_runner()
    with pytest.raises(faults.Killed):
        runner.invoke(events[0])
    [first_eni] = held(aws, world.pool)[iid]
    assert finals(runner.logs) == []  # died silently, as a timed-out sandbox does
    assert_sound(aws, world)

    again = runner.invoke(copy.deepcopy(events[0]))
    assert (again["result"], again["resumed"]) == ("CONTINUE", True)
    assert held(aws, world.pool)[iid] == [first_eni]
    assert plan.requests("ec2:AttachNetworkInterface") == 1
    assert lifecycle_state(aws, iid) == "InService"
    assert moto_patches.os_hostname(iid) == again["host_name"]
    assert_sound(aws, world)


def test_duplicates_racing_under_attach_throttling_attach_one_eni(aws, events, make_runner, plan):
    """Four deliveries of one action at once while attaches are throttled: one ENI."""
    import threading

    world, [iid] = pending(aws, events)
    plan.throttle("ec2:AttachNetworkInterface", times=4)
    runner = make_runner()
    results: list = []
    barrier = threading.Barrier(4)

    def go() -> None:
        barrier.wait()
        try:
            results.append(runner.invoke(copy.deepcopy(events[0])))
        except Exception as exc:  # a raised error is a Lambda retry, also fine
            results.append(exc)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [r for r in results if isinstance(r, dict)]
    assert [r["decision"] for r in done].count("lifecycle_completed") == 1
    assert len(held(aws, world.pool)[iid]) == 1
    assert lifecycle_state(aws, iid) == "InService"
    assert_sound(aws, world)


# --- The sweeper in the middle --------------------------------------------------------------

SWEEP_POINTS = [
    "ec2:DescribeNetworkInterfaces",
    "ec2:AttachNetworkInterface",
    "ec2:CreateTags",
    "ssm:SendCommand",
    "autoscaling:CompleteLifecycleAction",
]


@pytest.mark.parametrize("sweep_before", SWEEP_POINTS)
def test_sweeper_pass_in_the_middle_of_a_launch_with_no_grace(
    aws, events, make_runner, plan, sweep_before
):
    """A sweeper pass with lost-launch and leak graces of 0 (it takes the launch for lost
    at once) runs just before each step of a launch. The sweeper does or resumes the
    launch itself, on the ENI the launch holds if it holds one; the controller then finds
    the action completed. One ENI, one completion, InService, no error, nothing released."""
    world, [iid] = pending(aws, events)
    sweeper = make_runner("SweeperFunction", LostLaunchGraceSeconds="0", LeakGraceSeconds="0")
    passes: list[dict] = []
    plan.before(sweep_before, lambda call: passes.append(sweeper.invoke(scheduled_event())))
    launch = make_runner()
    result = launch.invoke(events[0])

    assert len(passes) == 1
    assert sweeper.logs.decisions("error") == [] and launch.logs.decisions("error") == []
    [finished] = sweeper.logs.decisions("lost_launch_finished")
    assert (finished["instance_id"], finished["result"]) == (iid, "CONTINUE")
    assert sweeper.logs.decisions("leaked_eni_released") == []
    assert (result["decision"], result["result"]) == ("lifecycle_not_active", "CONTINUE")
    # Both worked on one ENI: the sweeper's or the launch's, whichever attached first.
    assert finished["eni_id"] == result["eni_id"]
    assert held(aws, world.pool)[iid] == [result["eni_id"]]
    assert plan.requests("ec2:AttachNetworkInterface") <= 1
    completions = [
        a
        for a in moto_patches.lifecycle_actions()
        if a["instance_id"] == iid and a["state"] == "completed"
    ]
    assert [a["result"] for a in completions] == ["CONTINUE"]
    assert lifecycle_state(aws, iid) == "InService"
    assert moto_patches.os_hostname(iid) == result["host_name"]
    assert_sound(aws, world)


@pytest.mark.parametrize("sweep_before", SWEEP_POINTS)
def test_sweeper_pass_in_the_middle_of_a_launch_within_its_grace(
    aws, events, make_runner, plan, sweep_before
):
    """With the default graces the sweeper changes nothing of a launch in progress: no
    attach, no completion, no release; the controller completes as if alone."""
    world, [iid] = pending(aws, events)
    sweeper = make_runner("SweeperFunction")
    plan.before(sweep_before, lambda call: sweeper.invoke(scheduled_event()))
    result = make_runner().invoke(events[0])
    assert (result["decision"], result["result"]) == ("lifecycle_completed", "CONTINUE")
    assert result["attach_attempts"] == 1
    assert sweeper.logs.decisions("lost_launch_finished") == []
    assert sweeper.logs.decisions("leaked_eni_released") == []
    assert plan.requests("ec2:AttachNetworkInterface") == 1
    assert plan.requests("autoscaling:CompleteLifecycleAction") == 1
    assert len(held(aws, world.pool)[iid]) == 1
    assert lifecycle_state(aws, iid) == "InService"
    assert_sound(aws, world)


# --- The release on termination ----------------------------------------------------------


@pytest.mark.parametrize("fault", ["detach throttled past retries", "killed before completing"])
def test_terminate_fails_half_way_and_the_retried_event_releases_and_completes(
    aws, events, make_runner, plan, fault
):
    """Invariants 3 and 4 for the release function: a failed invocation leaves the action
    waiting (never silently done); the retried event gives the ENI back and completes."""
    world = build_world(aws, per_az=3, azs=1, max_size=6, terminate_hook=True)
    scale(aws, world, 1)
    [launched] = events
    iid = launched["detail"]["EC2InstanceId"]
    assert make_runner().invoke(launched)["result"] == "CONTINUE"
    [eni_id] = held(aws, world.pool)[iid]
    scale(aws, world, 0)
    end = events[-1]
    assert end["detail-type"] == "EC2 Instance-terminate Lifecycle Action"
    terminate = make_runner("TerminateFunction")
    if fault == "detach throttled past retries":
        plan.throttle("ec2:DetachNetworkInterface", times=MAX_ATTEMPTS)
        expected: tuple[type[BaseException], str] = (ClientError, "RequestLimitExceeded")
    else:
        plan.before("autoscaling:CompleteLifecycleAction", faults.kill)
        expected = (faults.Killed, "CompleteLifecycleAction")
    with pytest.raises(expected[0], match=expected[1]):
        terminate.invoke(end)
    assert lifecycle_state(aws, iid) == "Terminating:Wait"  # still waiting for the retry

    again = terminate.invoke(copy.deepcopy(end))
    assert (again["decision"], again["result"]) == ("lifecycle_completed", "CONTINUE")
    [eni] = aws.client("ec2").describe_network_interfaces(NetworkInterfaceIds=[eni_id])[
        "NetworkInterfaces"
    ]
    assert eni["Status"] == "available" and "Attachment" not in eni
    assert held(aws, world.pool) == {}
    assert_sound(aws, world)
