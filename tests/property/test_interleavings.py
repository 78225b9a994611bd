"""Random interleavings on the local simulated AWS (moto + fidelity patches) through the
real Launch, Terminate and Sweeper functions of template.yaml: launches, scale-ins,
instances terminated under the controller, lifecycle events delivered late, twice,
concurrently, out of order or never, hook timeouts, injected faults (throttling, lost
races, the sandbox killed half way), and sweeper passes alone or during a delivery.
After every step docs/design.md section 4's invariants hold:

1. no ENI held by two instances, no instance with two pool ENIs;
2. no InService instance without its pool ENI and its OS host name;
3. every delivered action ends with a result AWS agrees with, or a raised error that
   Lambda retries (here: the event goes back on the bus, at most twice);
4. no pool ENI left on a terminated instance, none leaked;
5. ENIs outside the pool and an instance outside the group are never changed.

Delivery is under the test's control (not the simulation's thread pool), so hypothesis
chooses the order and can shrink a failure to the shortest story."""

from __future__ import annotations

import copy
import os
import threading
import time
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import ClientError
from hypothesis import event as note_event
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from moto import mock_aws

from fixed_ip.errors import Transient
from fixed_ip_local import faults, moto_patches
from fixed_ip_local.faults import Call
from fixed_ip_local.invariants import picture, problems_in
from fixed_ip_local.lambda_runner import (
    FunctionRunner,
    TemplateFunction,
    collect_logs,
    detach_logs,
)
from fixed_ip_local.simulation import FAST_POLLS, pattern_matches, rules_from_template
from fixed_ip_local.world import DOCUMENT_NAME, build_world, create_pool_eni
from tests.property.conftest import MOTO_EXAMPLES, MOTO_PHASES, MOTO_STEPS, PROFILE

REGION = "ap-northeast-1"
_BOTOCORE = botocore.session.get_session()
_FUNCTIONS_BOTOCORE = botocore.session.get_session()
# Every delivered event is a real action of a managed hook: a refusal would be a bug.
FINAL = {"lifecycle_completed", "lifecycle_not_active"}
RETRIED = (faults.Killed, ClientError, Transient)
LAMBDA_RETRIES = 2
HEARTBEAT_TIMEOUT = 900
AGENTS = st.sampled_from(["Online", "Online", "never Online", "command fails"])
FAULT_OPS = [
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:AttachNetworkInterface",
    "ec2:CreateTags",
    "ec2:DetachNetworkInterface",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:CompleteLifecycleAction",
    "ssm:SendCommand",
    "ssm:GetCommandInvocation",
]


class _CachedModelsSession(boto3.session.Session):
    """The functions' sessions share parsed service models (creation time only)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("botocore_session", _FUNCTIONS_BOTOCORE)
        super().__init__(*args, **kwargs)


class Interleavings(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._saved_env = dict(os.environ)
        self._saved_session = boto3.session.Session
        boto3.session.Session = _CachedModelsSession  # type: ignore[misc]
        moto_patches.apply()
        self._mock = mock_aws()
        self._mock.start()
        self._plan_ctx = faults.inject()
        self.plan = self._plan_ctx.__enter__()
        # Faults are for the functions only: they run on threads of their own (below);
        # the test's own calls (scaling, checks) on this thread are never faulted.
        self._quiet_ctx = faults.quiet()
        self._quiet_ctx.__enter__()
        self._fast_ctx = faults.fast_retries(0.001)
        self._fast_ctx.__enter__()
        self._clock_offset = 0.0
        moto_patches.set_clock(lambda: time.time() + self._clock_offset)
        self.aws = boto3.Session(region_name=REGION, botocore_session=_BOTOCORE)
        self.bus: list[dict[str, Any]] = []  # published, not yet delivered
        self.delivered: list[dict[str, Any]] = []
        self.attempts: dict[str, int] = {}
        moto_patches.add_lifecycle_listener(self.bus.append)
        self.world = build_world(
            self.aws,
            per_az=2,
            azs=2,
            max_size=6,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            terminate_hook=True,
        )
        self.desired = 0
        self._outsiders()
        self.rules = rules_from_template()
        self.runners = {
            name: self._runner(name) for name in ("LaunchFunction", "TerminateFunction")
        }
        # The scheduled sweeper, with its default lost-launch grace (it leaves launches in
        # progress alone) and with none (it takes every waiting launch for lost at once).
        self.sweepers = {
            grace: self._runner(
                "SweeperFunction", LostLaunchGraceSeconds=grace, LeakGraceSeconds="0"
            )
            for grace in ("0", "600")
        }

    def _runner(self, name: str, **parameters: str) -> FunctionRunner:
        fn = TemplateFunction.from_template(
            name,
            # No wait for agents that never come Online (the others are Online at once).
            # Policy ABANDON: every action this machine delivers must end (it does not
            # model the WAIT queue; tests/integration/test_group_life.py does).
            parameters={"SsmWaitSeconds": "0", "OnPoolExhausted": "ABANDON", **parameters},
            resource_names={"ConfigureDocument": DOCUMENT_NAME},
        )
        runner = FunctionRunner(fn, extra_env=FAST_POLLS)
        runner.logs = collect_logs(runner)
        return runner

    def _outsiders(self) -> None:
        """Invariant 5's witnesses: in AZ a, an untagged ENI, another pool's ENI and an
        instance outside the group."""
        ec2 = self.aws.client("ec2")
        subnet = self.world.subnets["ap-northeast-1a"]
        untagged = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.0.40")
        other = create_pool_eni(ec2, subnet, "10.0.0.41", "db-1", "db-pool")
        self.outside_enis = [untagged["NetworkInterface"]["NetworkInterfaceId"], other]
        self.outside_instance = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet
        )["Instances"][0]["InstanceId"]
        self.outside_before = self._outside_state()

    def _outside_state(self, pic: Any = None) -> tuple:
        pic = pic or picture(self.aws, self.world.group)
        inst = pic.instances[self.outside_instance]
        return (
            sorted(
                (i, e["Status"], str(e.get("Attachment")), str(e.get("TagSet")))
                for i, e in pic.enis.items()
                if i in self.outside_enis
            ),
            sorted(n["NetworkInterfaceId"] for n in inst["NetworkInterfaces"]),
            sorted((t["Key"], t["Value"]) for t in inst.get("Tags", [])),
        )

    def teardown(self) -> None:
        try:
            for runner in [*self.runners.values(), *self.sweepers.values()]:
                detach_logs(runner, runner.logs)
        finally:
            moto_patches.clear_lifecycle_listeners()
            moto_patches.set_clock(None)
            moto_patches.set_auto_register(0.0)
            self._fast_ctx.__exit__(None, None, None)
            self._plan_ctx.__exit__(None, None, None)
            self._quiet_ctx.__exit__(None, None, None)
            self._mock.stop()
            boto3.session.Session = self._saved_session  # type: ignore[misc]
            os.environ.clear()
            os.environ.update(self._saved_env)

    # -- helpers --------------------------------------------------------------------------

    def _scale(self, desired: int) -> None:
        self.desired = desired
        self.aws.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=self.world.group, DesiredCapacity=desired
        )

    def _route(self, event: dict[str, Any]) -> FunctionRunner | None:
        for r in self.rules:
            if r.function in self.runners and pattern_matches(r.pattern, event):
                return self.runners[r.function]
        return None

    def _invoke(self, event: dict[str, Any], copies: int, concurrent: bool) -> list[Any]:
        runner = self._route(event)
        assert runner is not None, f"no rule routes {event['detail-type']}"
        outcomes: list[Any] = [None] * copies

        def one(k: int) -> None:
            try:
                outcomes[k] = runner.invoke(copy.deepcopy(event))
            except BaseException as exc:  # Killed included: the sandbox died
                outcomes[k] = exc

        # Each invocation on a thread of its own, as Lambda runs each in a sandbox.
        threads = [threading.Thread(target=one, args=(k,)) for k in range(copies)]
        if concurrent:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for t in threads:
                t.start()
                t.join()
        return outcomes

    def _check_outcomes(self, event: dict[str, Any], outcomes: list[Any]) -> None:
        """Invariant 3: a final decision AWS agrees with, or a raised error (retried)."""
        token = event["detail"]["LifecycleActionToken"]
        action = next(a for a in moto_patches.lifecycle_actions() if a["token"] == token)
        failed = False
        kind = "launch" if "launch" in event["detail-type"] else "terminate"
        for out in outcomes:
            if isinstance(out, BaseException):
                # Only what Lambda retries by design: a killed sandbox, an AWS error
                # botocore gave up on, or the controller's own "retry later".
                assert isinstance(out, RETRIED), repr(out)
                note_event(f"{kind}: raised {type(out).__name__}")
                failed = True
                continue
            note_event(f"{kind}: {out.get('decision')} {out.get('result')} {out.get('reason')}")
            assert isinstance(out, dict) and out.get("decision") in FINAL, out
            if out["decision"] == "lifecycle_completed":
                assert action["state"] == "completed", (out, action)
                assert action["result"] == out["result"], (out, action)
            if out["decision"] == "lifecycle_not_active":
                # "Not active" must be true: silence on a waiting action breaks invariant 3.
                assert action["state"] != "active", (out, action)
        if failed and action["state"] == "active":
            # Lambda's async retry: the event comes back, at most twice.
            tries = self.attempts.get(event["id"], 0) + 1
            self.attempts[event["id"]] = tries
            if tries <= LAMBDA_RETRIES:
                self.bus.append(event)

    def _pick(self, items: list[Any], index: int) -> Any:
        return items[index % len(items)]

    # -- rules ----------------------------------------------------------------------------

    @initialize(n=st.integers(1, 6), agent=AGENTS)
    def start(self, n: int, agent: str) -> None:
        self.scale_out(n, agent)

    @rule(k=st.integers(1, 3), agent=AGENTS)
    def scale_out(self, k: int, agent: str) -> None:
        """More instances, whose SSM agent is Online at once, never comes Online, or
        runs the host-name command to a failure."""
        if agent == "never Online":
            moto_patches.set_auto_register(None)
        mark = len(self.bus)
        try:
            self._scale(min(6, self.desired + k))
        finally:
            moto_patches.set_auto_register(0.0)
        if agent == "command fails":
            for event in self.bus[mark:]:
                moto_patches.set_command_outcome(event["detail"]["EC2InstanceId"], "Failed")

    @rule(k=st.integers(1, 2))
    def scale_in(self, k: int) -> None:
        self._scale(max(0, self.desired - k))

    @rule(index=st.integers(0, 99))
    def instance_terminated_under_us(self, index: int) -> None:
        """Spot interruption or an operator: EC2 terminates a group member directly."""
        members = [
            i["InstanceId"]
            for g in self.aws.client("autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[self.world.group]
            )["AutoScalingGroups"]
            for i in g["Instances"]
        ]
        if members:
            self.aws.client("ec2").terminate_instances(InstanceIds=[self._pick(members, index)])

    @precondition(lambda self: self.bus)
    @rule()
    def deliver_oldest(self) -> None:
        """EventBridge delivers the oldest pending event, once."""
        event = self.bus.pop(0)
        self.delivered.append(event)
        self._check_outcomes(event, self._invoke(event, 1, False))

    @precondition(lambda self: self.bus)
    @rule(
        index=st.integers(0, 99),
        how=st.sampled_from(
            ["once", "once", "twice at once", "three times at once", "twice in a row", "lost"]
        ),
    )
    def deliver_any(self, index: int, how: str) -> None:
        """EventBridge delivers any pending event (out of order), possibly several times
        (at least once), or loses it (best effort)."""
        event = self.bus.pop(index % len(self.bus))
        if how == "lost":
            return
        self.delivered.append(event)
        copies = {"twice at once": 2, "three times at once": 3, "twice in a row": 2}.get(how, 1)
        self._check_outcomes(event, self._invoke(event, copies, how.endswith("at once")))

    @precondition(lambda self: self.delivered)
    @rule(index=st.integers(0, 99))
    def deliver_late_duplicate(self, index: int) -> None:
        event = self._pick(self.delivered, index)
        self._check_outcomes(event, self._invoke(event, 1, False))

    @rule(grace=st.sampled_from(["0", "600"]), with_delivery=st.booleans())
    def sweeper_pass(self, grace: str, with_delivery: bool) -> None:
        """The scheduled sweeper passes, alone or at the same moment as the delivery of
        the oldest pending event. A pass that raises (a fault) is simply the next pass's
        work; one that returns has finished."""
        sweeper = self.sweepers[grace]
        outcome: list[Any] = []

        def sweep() -> None:
            try:
                outcome.append(sweeper.invoke({"source": "aws.events", "detail": {}}))
            except BaseException as exc:  # Killed included
                outcome.append(exc)

        thread = threading.Thread(target=sweep)
        thread.start()
        if with_delivery and self.bus:
            event = self.bus.pop(0)
            self.delivered.append(event)
            self._check_outcomes(event, self._invoke(event, 1, False))
        thread.join()
        [out] = outcome
        if isinstance(out, BaseException):
            note_event(f"sweeper: raised {type(out).__name__}")
        else:
            note_event(f"sweeper (grace {grace}): {out['lost_launches_finished']} finished")
            assert out["decision"] == "sweep_completed", out

    @rule()
    def hook_timeouts_pass(self) -> None:
        """Time passes beyond the hooks' heartbeat timeouts: Auto Scaling applies each
        waiting action's DefaultResult, then refills the group to its desired capacity."""
        self._clock_offset += HEARTBEAT_TIMEOUT + 60
        moto_patches.expire_lifecycle_actions(REGION)
        self._scale(self.desired)

    @rule(
        fault=st.sampled_from(
            ["throttled once", "throttled 3 times", "throttled past retries", "killed", "rival"]
        ),
        operation=st.sampled_from(FAULT_OPS),
    )
    def arm_fault(self, fault: str, operation: str) -> None:
        """The next call(s) of `operation` by a function: throttled (past botocore's 11
        attempts the invocation fails and Lambda retries it), the sandbox killed just
        before it, or (attach only) a rival attaching the target ENI first."""
        if fault.startswith("throttled"):
            times = {"throttled once": 1, "throttled 3 times": 3}.get(fault, 11)
            self.plan.throttle(operation, times=times)
        elif fault == "killed":
            self.plan.before(operation, faults.kill)
        else:
            self.plan.before("ec2:AttachNetworkInterface", self._steal)

    def _steal(self, call: Call) -> None:
        ec2 = self.aws.client("ec2")
        held = {
            (e.get("Attachment") or {}).get("InstanceId")
            for e in ec2.describe_network_interfaces(
                Filters=[{"Name": "tag:fixed-ip:pool", "Values": [self.world.pool]}]
            )["NetworkInterfaces"]
        }
        target = ec2.describe_network_interfaces(
            NetworkInterfaceIds=[call.params["NetworkInterfaceId"]]
        )["NetworkInterfaces"][0]
        rivals = [
            i["InstanceId"]
            for g in self.aws.client("autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[self.world.group]
            )["AutoScalingGroups"]
            for i in g["Instances"]
            if i["LifecycleState"] == "Pending:Wait"
            and i["InstanceId"] not in held
            and i["InstanceId"] != call.params["InstanceId"]
            and i["AvailabilityZone"] == target["AvailabilityZone"]
        ]
        if rivals and target["Status"] == "available":
            ec2.attach_network_interface(
                NetworkInterfaceId=target["NetworkInterfaceId"], InstanceId=rivals[0], DeviceIndex=1
            )

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        pic = picture(self.aws, self.world.group)
        problems = problems_in(
            pic,
            self.world.pool,
            os_hostname=lambda iid: moto_patches.os_hostname(iid, REGION),
            os_address=lambda iid: moto_patches.os_address(iid, REGION),
        )
        assert problems == [], problems
        assert self._outside_state(pic) == self.outside_before  # invariant 5


Interleavings.TestCase.settings = settings(
    settings(),
    max_examples=MOTO_EXAMPLES.get(PROFILE, MOTO_EXAMPLES["short"]),
    stateful_step_count=MOTO_STEPS.get(PROFILE, MOTO_STEPS["short"]),
    phases=MOTO_PHASES.get(PROFILE, MOTO_PHASES["short"]),
)
TestInterleavings = Interleavings.TestCase
