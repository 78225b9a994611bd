"""Issue 11 (hardening) on in-memory fakes: one test (or more) per item, named item<N>."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from fixed_ip import capacity
from fixed_ip.adapters.autoscaling import AutoScalingLifecycle
from fixed_ip.controller import TerminateController, run_invocation
from fixed_ip.error_codes import CODES, DEFINITIVE, LOST_RACE, RETRIED, classify, definitive
from fixed_ip.errors import InvalidHostName
from fixed_ip.hostname import validate_hostname
from fixed_ip.launch import CONTINUE, Deps, LaunchUseCase
from fixed_ip.models import GROUPS_TAG, LAUNCHING, Hook, LaunchRequest, TerminateRequest
from fixed_ip.settings import Settings
from fixed_ip.sweeper import SweeperUseCase
from fixed_ip.terminate import TerminateUseCase
from tests.fakes import NOW, FakeCloud, RecordingObserver
from tests.unit.test_controller import IID, TOKEN, launch_event, metric_names, setup


def client_error(code: str, status: int = 400, op: str = "AttachNetworkInterface") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} message"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        op,
    )


# --- Item 1: one table of AWS error codes ------------------------------------------------


def test_item1_table_classifies_known_and_unknown_codes():
    assert classify("RequestLimitExceeded") == RETRIED
    assert classify("ThrottlingException") == RETRIED  # SSM, Auto Scaling
    assert classify("InvalidInstanceId") == RETRIED  # SSM agent not registered yet
    assert classify("InvalidNetworkInterface.InUse") == LOST_RACE
    assert classify("AttachmentLimitExceeded") == DEFINITIVE
    assert classify("UnauthorizedOperation") == DEFINITIVE
    assert classify("NeverHeardOfIt") == DEFINITIVE  # unknown: definitive
    assert classify("NeverHeardOfIt", 503) == RETRIED  # but any 5xx is retried
    assert {kind for kind, _ in CODES.values()} == {RETRIED, LOST_RACE, DEFINITIVE}


def test_item1_definitive_names_the_reason_and_code():
    refused = definitive(client_error("AttachmentLimitExceeded"), "attach of eni-1")
    assert refused is not None
    assert (refused.reason, refused.aws_error) == (
        "attachment_limit_exceeded",
        "AttachmentLimitExceeded",
    )
    assert "attach of eni-1" in str(refused) and "AttachmentLimitExceeded" in str(refused)
    assert definitive(client_error("RequestLimitExceeded")) is None
    assert definitive(client_error("Whatever", 500)) is None
    assert definitive(RuntimeError("not AWS")) is None
    # A race code from a call that does not expect it: definitive, generic reason.
    stray = definitive(client_error("InvalidParameterValue", op="CreateTags"))
    assert stray is not None and (stray.reason, stray.aws_error) == (
        "aws_error",
        "InvalidParameterValue",
    )


def test_item1_definitive_error_in_any_launch_step_abandons_at_once():
    cloud = FakeCloud()
    cloud.add_instance(IID, group="web-asg")
    cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")

    def denied(instance_id, tags):
        raise client_error("UnauthorizedOperation", op="CreateTags")

    cloud.tag_instance = denied
    controller, observer, logs, emf = setup(cloud)
    result = run_invocation(
        launch_event(IID, "web-asg", TOKEN), 300_000, observer, lambda: controller
    )
    assert (result["result"], result["reason"], result["aws_error"]) == (
        "ABANDON",
        "access_denied",
        "UnauthorizedOperation",
    )
    assert cloud.completed == [(IID, "ABANDON")]
    [final] = logs.decisions("lifecycle_completed")
    assert final["aws_error"] == "UnauthorizedOperation"
    assert "Abandons" in metric_names([json.loads(e) for e in emf])


# --- Item 8: unexpected exceptions are readable -----------------------------------------


def test_item8_error_line_has_type_message_and_stack():
    cloud = FakeCloud()
    cloud.add_instance(IID, group="web-asg")

    def broken(**_):
        raise KeyError("NetworkInterfaces")  # a bug, or an answer shaped unexpectedly

    cloud.list_pool_enis = broken
    controller, observer, logs, _ = setup(cloud)
    with pytest.raises(KeyError):
        run_invocation(launch_event(IID, "web-asg", TOKEN), 300_000, observer, lambda: controller)
    [line] = logs.decisions("error")
    assert line["error_type"] == "KeyError" and line["reason"] == "KeyError"
    assert line["detail"] == "'NetworkInterfaces'"
    assert "KeyError: 'NetworkInterfaces'" in line["stack"] and "def broken" not in line["stack"]
    assert "in broken" in line["stack"]  # the frame that raised
    assert line["instance_id"] == IID and TOKEN not in json.dumps(line)


# --- Item 6: host names that are addresses in disguise ----------------------------------

ADDRESS_SHAPED = [
    "127.1",
    "2130706433",
    "0x7f000001",
    "0X7F.1",
    "0x",
    "10.0.0.1",
    "169.254.169.254",
    "0",
    "017700000001",
    "1.2.3",
    "server.10",  # all-numeric last label
    "web-1.example.2",
]
LOOPBACK_NAMES = ["localhost", "LocalHost"]
VALID_NAMES = ["server-a1", "1host", "web-01.example.internal", "0xz", "a1.b2", "x" * 63, "db-10"]


@pytest.mark.parametrize("name", ADDRESS_SHAPED + LOOPBACK_NAMES)
def test_item6_address_shaped_and_loopback_names_are_refused(name):
    with pytest.raises(InvalidHostName, match=r"address|loopback|all-numeric"):
        validate_hostname(name)


@pytest.mark.parametrize("name", ["127.1", "2130706433", "0x7f000001", "0", "10.0.0.1"])
def test_item6_every_name_inet_aton_accepts_is_refused(name):
    socket.inet_aton(name)  # the premise: the C library reads it as an address
    with pytest.raises(InvalidHostName):
        validate_hostname(name)


@pytest.mark.parametrize("name", VALID_NAMES)
def test_item6_real_names_with_digits_still_pass(name):
    assert validate_hostname(name) == name


# --- Item 4: the primary ENI (device index 0) is never the fixed address ----------------


def _primary_tagged(cloud: FakeCloud, instance_id: str, pool: str = "web-asg"):
    """The instance's primary interface carries the pool tag (a launch template that
    tags network interfaces did it)."""
    primary = cloud.add_eni("10.0.0.200", "from-template", pool=pool)
    primary.instance_id, primary.device_index = instance_id, 0
    cloud.instances[instance_id].nics[0] = primary.eni_id
    return primary


def _deps(cloud: FakeCloud) -> Deps:
    return Deps(compute=cloud, lifecycle=cloud, commands=cloud, clock=cloud.clock)


def test_item4_launch_claims_a_real_pool_eni_beside_a_pool_tagged_primary():
    cloud = FakeCloud()
    cloud.add_instance(IID, group="web-asg")
    real = cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    primary = _primary_tagged(cloud, IID)
    req = LaunchRequest(
        instance_id=IID,
        group="web-asg",
        hook="fixed-ip-launch",
        token="t",
        pool="web-asg",
        device_index=1,
    )
    use_case = LaunchUseCase(_deps(cloud), Settings(document="doc"))
    out = use_case.run(req, deadline=1e9, observer=RecordingObserver())
    assert (out.result, out.eni_id, out.ip, out.resumed) == (
        CONTINUE,
        real.eni_id,
        "10.0.0.4",
        False,
    )
    assert (real.instance_id, real.device_index) == (IID, 1)
    assert (primary.instance_id, primary.device_index) == (IID, 0)  # untouched
    assert cloud.instances[IID].tags["HostName"] == "server-a1"


def test_item4_terminate_never_detaches_the_primary():
    cloud = FakeCloud()
    cloud.add_instance(IID, group="web-asg", lifecycle="Terminating:Wait")
    real = cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    real.instance_id, real.device_index = IID, 1
    cloud.instances[IID].nics[1] = real.eni_id
    primary = _primary_tagged(cloud, IID)
    req = TerminateRequest(instance_id=IID, group="web-asg", hook="fixed-ip-terminate", token="t")
    out = TerminateUseCase(_deps(cloud), Settings(document="doc")).run(
        req, deadline=1e9, observer=RecordingObserver()
    )
    assert out.released == [real.eni_id] and cloud.calls.count("detach") == 1
    assert primary.instance_id == IID and out.ips == ["10.0.0.4"]


def _sweep(cloud: FakeCloud, **kw):
    s = Settings(document="doc", **kw)
    obs = RecordingObserver()
    sweeper = SweeperUseCase(_deps(cloud), s, LaunchUseCase(_deps(cloud), s))
    return sweeper.run(now=NOW, deadline=1e9, observer=obs), obs


def test_item4_sweeper_neither_releases_nor_counts_a_pool_tagged_primary():
    cloud = FakeCloud()
    cloud.add_group("web-asg", max_size=2, azs=("az-a",), max_healthy_percentage=100)
    cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    cloud.add_instance(IID, group="web-asg", lifecycle="InService")
    _primary_tagged(cloud, IID)
    dead = "i-00000000000000dd"
    cloud.add_instance(
        dead,
        group="web-asg",
        lifecycle="InService",
        state="terminated",
        state_changed_at=NOW - timedelta(hours=1),
    )
    dead_primary = _primary_tagged(cloud, dead)
    report, _ = _sweep(cloud)
    assert report.released == [] and "detach" not in cloud.calls
    assert dead_primary.instance_id == dead
    # The primary is not its fixed address: the instance has none.
    assert report.without_eni == [IID]
    [cap] = report.capacity
    assert (cap.free, cap.in_use) == (1, 0)


# --- Item 2: ManagedGroupPattern enforced in code -----------------------------------------


@pytest.mark.parametrize(
    ("pattern", "group", "managed"),
    [
        ("*", "anything at all", True),
        ("web-*", "web-", True),
        ("web-*", "web-a", True),
        ("web-*", "db-a", False),
        ("web-*", "Web-a", False),  # StringLike is case-sensitive
        ("web-?", "web-a", True),
        ("web-?", "web-ab", False),
        ("web[1]", "web[1]", True),  # only * and ? are special
        ("web[1]", "web1", False),
        ("web.asg", "webxasg", False),
        ("*-prod", "a-prod", True),
        ("*-prod", "a-prod-2", False),  # the whole name
    ],
)
def test_item2_pattern_has_iam_stringlike_semantics(pattern, group, managed):
    s = Settings(document="doc", managed_group_pattern=pattern)
    assert s.manages(group) is managed


def _foreign_world() -> FakeCloud:
    cloud = FakeCloud()
    cloud.add_instance(IID, group="db-asg")
    cloud.add_eni("10.0.0.4", "server-a1", pool="db-asg")
    return cloud


@pytest.mark.parametrize("metadata", [None, '{"pol": "typo"}'])
def test_item2_launch_event_of_a_foreign_group_is_refused_without_any_aws_call(metadata):
    cloud = _foreign_world()
    controller, observer, logs, emf = setup(cloud, managed_group_pattern="web-*")
    event = launch_event(IID, "db-asg", TOKEN)
    if metadata:
        event["detail"]["NotificationMetadata"] = metadata  # not even ABANDONed
    result = run_invocation(event, 300_000, observer, lambda: controller)
    assert (result["result"], result["reason"]) == ("REFUSED", "invalid_event")
    assert "ManagedGroupPattern" in result["detail"] and "db-asg" in result["detail"]
    [line] = logs.lines()
    assert line["decision"] == "event_refused"
    assert cloud.calls == [] and cloud.completed == []
    assert metric_names([json.loads(e) for e in emf]) == {"InvalidEvents"}


def test_item2_terminate_event_of_a_foreign_group_is_refused():
    cloud = _foreign_world()
    s = Settings(document="doc", managed_group_pattern="web-*")
    controller = TerminateController(TerminateUseCase(_deps(cloud), s), s, cloud.clock)
    event = launch_event(IID, "db-asg", TOKEN)
    event["detail-type"] = "EC2 Instance-terminate Lifecycle Action"
    event["detail"]["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_TERMINATING"
    event["detail"]["LifecycleHookName"] = "fixed-ip-terminate"
    result = controller.handle(event, RecordingObserver(), 300_000)
    assert result["result"] == "REFUSED" and "ManagedGroupPattern" in result["detail"]
    assert cloud.calls == []


def test_item2_sweeper_skips_groups_outside_the_pattern():
    cloud = FakeCloud()
    cloud.add_group("db-asg", azs=("az-a",))
    cloud.add_group("web-asg", azs=("az-a",))
    cloud.add_eni("10.0.0.4", "db-1", pool="db-asg")
    cloud.add_eni("10.0.0.5", "web-1", pool="web-asg")
    cloud.add_instance(IID, group="db-asg", lifecycle="Pending:Wait")  # its event was lost
    leaked = cloud.add_eni("10.0.0.6", "db-2", pool="db-asg")
    leaked.instance_id, leaked.device_index = "i-00000000000000dd", 1  # gone instance
    report, obs = _sweep(cloud, managed_group_pattern="web-*")
    assert report.groups == 1 and report.lost_launches == [] and report.released == []
    assert cloud.completed == [] and cloud.mutations() == []
    assert {c.pool for c in report.capacity} == {"web-asg"}
    [line] = [x for x in obs.lines if x["decision"] == "group_not_managed"]
    assert line["group"] == "db-asg"


# --- Item 3: the sweeper never stops on one bad group, instance or ENI -------------------


def _two_groups() -> FakeCloud:
    """web-asg and api-asg, each with a lost launch waiting an hour; a leaked ENI in each
    pool (its holder terminated an hour ago)."""
    cloud = FakeCloud()
    for group, az_ip in (("web-asg", "10.0.0"), ("api-asg", "10.0.1")):
        cloud.add_group(group, max_size=2, azs=("az-a",), max_healthy_percentage=100)
        cloud.add_eni(f"{az_ip}.4", f"{group}-1", pool=group)
        leaked = cloud.add_eni(f"{az_ip}.5", f"{group}-2", pool=group)
        dead = f"i-0000000000000{'d1' if group == 'web-asg' else 'd2'}"
        cloud.add_instance(
            dead, group=group, lifecycle="Terminated", state="terminated",
            state_changed_at=NOW - timedelta(hours=1),
        )  # fmt: skip
        leaked.instance_id, leaked.device_index = dead, 1
    cloud.add_instance("i-00000000000000a1", group="web-asg", lifecycle="Pending:Wait")
    cloud.add_instance("i-00000000000000b1", group="api-asg", lifecycle="Pending:Wait")
    return cloud


def _failed_steps(obs: RecordingObserver) -> list[dict]:
    return [x for x in obs.lines if x["decision"] == "sweep_step_failed"]


def test_item3_one_failing_group_does_not_stop_the_others():
    cloud = _two_groups()
    real = cloud.list_pool

    def broken(*, tag_key, pool):
        if pool == "web-asg":
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "Describe")
        return real(tag_key=tag_key, pool=pool)

    cloud.list_pool = broken
    report, obs = _sweep(cloud)
    # api-asg: its lost launch finished, its leaked ENI released, its capacity published
    assert report.lost_launches == [("i-00000000000000b1", CONTINUE)]
    assert report.released == [e.eni_id for e in cloud.enis.values() if e.ip == "10.0.1.5"]
    assert {c.pool for c in report.capacity} == {"api-asg"}
    [failed] = _failed_steps(obs)
    assert (failed["step"], failed["group"], failed["aws_error"]) == (
        "group",
        "web-asg",
        "InternalError",
    )
    assert failed["error_type"] == "ClientError" and "boom" in failed["detail"]
    assert "Traceback" in failed["stack"]
    assert obs.count("SweepErrors") == 1 and report.errors == ["group: ClientError"]


def test_item3_one_failing_lost_launch_does_not_stop_the_next():
    cloud = _two_groups()
    cloud.add_instance("i-00000000000000a2", group="web-asg", lifecycle="Pending:Wait")
    cloud.add_eni("10.0.0.7", "web-asg-3", pool="web-asg")  # a1 keeps the first one
    real = cloud.tag_instance

    def broken(instance_id, tags):
        if instance_id == "i-00000000000000a1":
            raise RuntimeError("unexpected answer")
        return real(instance_id, tags)

    cloud.tag_instance = broken
    report, obs = _sweep(cloud)
    assert ("i-00000000000000a2", CONTINUE) in report.lost_launches
    assert ("i-00000000000000b1", CONTINUE) in report.lost_launches
    [failed] = _failed_steps(obs)
    assert (failed["step"], failed["instance_id"], failed["detail"]) == (
        "lost_launch", "i-00000000000000a1", "unexpected answer",
    )  # fmt: skip
    assert len(report.released) == 2 and len(report.capacity) == 2


def test_item3_one_failing_detach_does_not_stop_the_other_releases():
    cloud = _two_groups()
    real = cloud.detach
    web_leak = next(e for e in cloud.enis.values() if e.ip == "10.0.0.5")

    def broken(attachment_id):
        if attachment_id == f"attach-{web_leak.eni_id}":
            raise ClientError(
                {"Error": {"Code": "UnauthorizedOperation"}}, "DetachNetworkInterface"
            )
        return real(attachment_id)

    cloud.detach = broken
    report, obs = _sweep(cloud)
    api_leak = next(e for e in cloud.enis.values() if e.ip == "10.0.1.5")
    assert report.released == [api_leak.eni_id] and web_leak.instance_id is not None
    [failed] = _failed_steps(obs)
    assert (failed["step"], failed["eni_id"], failed["aws_error"]) == (
        "leaked_eni", web_leak.eni_id, "UnauthorizedOperation",
    )  # fmt: skip
    assert len(report.lost_launches) == 2 and len(report.capacity) == 2


def test_item3_lost_warm_pool_launch_is_completed_without_an_address():
    cloud = FakeCloud()
    cloud.add_group("web-asg", max_size=2, azs=("az-a",))
    cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    warm = "i-00000000000000c1"
    cloud.add_instance(warm, group="web-asg", lifecycle="Warmed:Pending:Wait")
    report, obs = _sweep(cloud)
    assert report.lost_launches == [(warm, CONTINUE)]
    assert cloud.completed == [(warm, CONTINUE)] and cloud.completed_tokens == [None]
    assert cloud.held_by(warm) == [] and "attach" not in cloud.calls
    [line] = [x for x in obs.lines if x["decision"] == "lost_launch_finished"]
    assert line["reason"] == "warm_pool"


@pytest.mark.parametrize(("attached_ago", "released"), [(30, False), (3600, True)])
def test_item3_holder_ec2_does_not_list_is_released_only_after_the_grace(attached_ago, released):
    """Right after a launch DescribeInstances may not list the instance yet while its
    attachment already shows: the grace counts from the attach time."""
    cloud = FakeCloud()
    cloud.add_group("web-asg", max_size=2, azs=("az-a",))
    eni = cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    eni.instance_id, eni.device_index = "i-000000000000000e", 1  # unknown to EC2
    eni.attached_at = NOW - timedelta(seconds=attached_ago)
    report, _ = _sweep(cloud, leak_grace_seconds=300)
    assert (report.released == [eni.eni_id]) is released
    assert (eni.instance_id is None) is released


class _AsgClient:
    """Just enough of an Auto Scaling client: one group with a warm pool."""

    def __init__(self) -> None:
        self.warm_calls: list[dict] = []

    def get_paginator(self, name):
        group = {
            "AutoScalingGroupName": "web-asg",
            "MaxSize": 4,
            "AvailabilityZones": ["az-a"],
            "VPCZoneIdentifier": "subnet-1,subnet-2",
            "Instances": [
                {"InstanceId": "i-1", "AvailabilityZone": "az-a", "LifecycleState": "InService"}
            ],
            "WarmPoolConfiguration": {"PoolState": "Stopped"},
        }
        return type("P", (), {"paginate": lambda self: [{"AutoScalingGroups": [group]}]})()

    def describe_lifecycle_hooks(self, **_):
        hook = {"LifecycleHookName": "fixed-ip-launch", "LifecycleTransition": LAUNCHING}
        return {"LifecycleHooks": [hook]}

    def describe_warm_pool(self, **params):
        self.warm_calls.append(params)
        if "NextToken" not in params:
            inst = {"InstanceId": "i-2", "AvailabilityZone": "az-a",
                    "LifecycleState": "Warmed:Pending:Wait"}  # fmt: skip
            return {"Instances": [inst], "NextToken": "more"}
        inst = {"InstanceId": "i-3", "AvailabilityZone": "az-a", "LifecycleState": "Warmed:Stopped"}
        return {"Instances": [inst]}


def test_item3_adapter_lists_warm_pool_instances_and_subnets():
    client = _AsgClient()
    [group] = AutoScalingLifecycle(client).managed_groups("fixed-ip")
    states = {i.instance_id: i.lifecycle_state for i in group.instances}
    assert states == {"i-1": "InService", "i-2": "Warmed:Pending:Wait", "i-3": "Warmed:Stopped"}
    assert len(client.warm_calls) == 2 and group.subnet_ids == ("subnet-1", "subnet-2")


# --- Item 5: one capacity figure -----------------------------------------------------------


def _mixed_pool() -> FakeCloud:
    """web-asg (subnets in vpc-1) and a pool with, in az-a: one usable ENI, one without a
    host name (usable: the tag is optional), one with an address-shaped host name, one
    reserved for another group, one in another VPC, one held by web-asg's instance."""
    cloud = FakeCloud()
    cloud.add_group("web-asg", max_size=4, azs=("az-a",), max_healthy_percentage=100)
    cloud.group_subnets["web-asg"] = ("subnet-a",)
    cloud.subnet_vpc["subnet-a"] = "vpc-1"
    cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    cloud.add_eni("10.0.0.5", None, pool="web-asg")
    cloud.add_eni("10.0.0.6", "169.254.169.254", pool="web-asg")
    cloud.add_eni("10.0.0.7", "server-a4", pool="web-asg", extra_tags={GROUPS_TAG: "db-*"})
    cloud.add_eni("10.0.0.8", "server-a5", pool="web-asg", vpc_id="vpc-2")
    held = cloud.add_eni("10.0.0.9", "server-a6", pool="web-asg")
    cloud.add_instance(IID, group="web-asg", lifecycle="InService")
    held.instance_id, held.device_index = IID, 1
    return cloud


def test_item5_sweeper_counts_only_usable_enis_as_free():
    report, obs = _sweep(_mixed_pool())
    [cap] = report.capacity
    # need 4; free 2 (usable), in use 1: short of 1, which the alarm now sees
    assert (cap.free, cap.in_use, cap.need, cap.shortfall) == (2, 1, 4, 1)
    assert ("PoolFree", 2, {"Pool": "web-asg", "AZ": "az-a"}) in obs.dimensioned
    assert ("PoolShortfall", 1, {"Pool": "web-asg", "AZ": "az-a"}) in obs.dimensioned


def test_item5_sweeper_metrics_agree_with_the_library_on_the_same_world():
    """The sweeper's published figures are capacity.by_pool / by_group of the same world,
    read through the same ports (what doctor and pool status are to use too)."""
    cloud = _mixed_pool()
    cloud.add_group("api-asg", max_size=2, azs=("az-a", "az-c"), max_healthy_percentage=100)
    cloud.groups["api-asg"] = (
        2, ("az-a", "az-c"),
        (Hook("fixed-ip-launch", LAUNCHING, '{"pool": "web-asg"}'),), 100,
    )  # fmt: skip
    cloud.add_eni("10.0.1.4", "server-c1", pool="web-asg", az="az-c")
    cloud.add_eni("10.0.0.10", "db-1", pool="web-asg", extra_tags={GROUPS_TAG: "api-*"})
    report, obs = _sweep(cloud)

    pools = {"web-asg": cloud.list_pool(tag_key="fixed-ip:pool", pool="web-asg")}
    demands = [
        capacity.demand(g, "web-asg", 110, cloud.subnet_vpcs(list(g.subnet_ids)))
        for g in cloud.managed_groups("fixed-ip")
    ]
    expected = capacity.by_pool(pools, demands)
    published = {
        (dims["AZ"], name): value
        for name, value, dims in obs.dimensioned
        if name in ("PoolFree", "PoolInUse", "PoolShortfall")
    }
    assert published == {
        (c.az, name): value
        for c in expected
        for name, value in (("PoolFree", c.free), ("PoolInUse", c.in_use),
                            ("PoolShortfall", c.shortfall))
    }  # fmt: skip
    assert report.capacity == expected
    assert report.group_capacity == [
        r for d in demands for r in capacity.by_group(pools["web-asg"], d)
    ]
    # api-asg may use the ENI reserved for it, web-asg may not
    rows = {(r.group, r.az): r.free for r in report.group_capacity}
    assert rows[("web-asg", "az-a")] == 2 and rows[("api-asg", "az-a")] == 4


# --- Item 7: two live instances with one host name ----------------------------------------


def test_item7_sweeper_reports_live_instances_sharing_a_host_name():
    """An operator detached server-a1's ENI from a running instance by hand; the next
    launch got it: both are InService, both named server-a1."""
    cloud = FakeCloud()
    cloud.add_group("web-asg", max_size=4, azs=("az-a",))
    eni = cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    first, second = "i-0000000000000a01", "i-0000000000000a02"
    cloud.add_instance(first, lifecycle="InService", tags={"HostName": "server-a1"})
    cloud.add_instance(second, lifecycle="InService", tags={"HostName": "server-a1"})
    cloud.add_instance("i-0000000000000a03", lifecycle="InService", tags={"HostName": "other"})
    eni.instance_id, eni.device_index = second, 1
    report, obs = _sweep(cloud)
    assert report.duplicate_host_names == {("web-asg", "server-a1"): [first, second]}
    [line] = [x for x in obs.lines if x["decision"] == "duplicate_host_name"]
    assert line["host_name"] == "server-a1" and line["instance_id"] == f"{first},{second}"
    assert line["pool"] == "web-asg" and line["level"] == "warning"
    assert ("DuplicateHostNames", 1, {"Pool": "web-asg"}) in obs.dimensioned


def test_item7_no_duplicates_publishes_zero_and_ignores_terminated_instances():
    cloud = FakeCloud()
    cloud.add_group("web-asg", max_size=4, azs=("az-a",))
    cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    cloud.add_instance("i-0000000000000a01", lifecycle="InService", tags={"HostName": "server-a1"})
    cloud.add_instance(
        "i-0000000000000a02", lifecycle="Terminating:Wait", tags={"HostName": "server-a1"}
    )
    report, obs = _sweep(cloud)
    assert report.duplicate_host_names == {}
    assert ("DuplicateHostNames", 0, {"Pool": "web-asg"}) in obs.dimensioned
