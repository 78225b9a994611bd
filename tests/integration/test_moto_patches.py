"""The moto fidelity patches reproduce the AWS behaviours fixed-ip relies on.

Each test states the AWS behaviour and fails on moto 5.2.5 without the patch.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from fixed_ip_local import moto_patches
from fixed_ip_local.moto_patches import LAUNCHING, TERMINATING
from tests.helpers import DETAIL_KEYS, TOP_KEYS

REGION = "ap-northeast-1"
AZ_A, AZ_C = "ap-northeast-1a", "ap-northeast-1c"
ACCOUNT = "123456789012"
IMAGE = "ami-12c6146b"
HOSTNAME_DOC = "fixed-ip-set-hostname"
HOSTNAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    # moto loads ~1300 default AMIs into every EC2 backend it creates or resets (0.4 s each).
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


class FakeClock:
    """Settable epoch clock for the patches (agent registration, delays, hook timeouts)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _reset_settings() -> None:
    moto_patches.clear_lifecycle_listeners()
    moto_patches.set_auto_register(0.0)
    moto_patches.set_clock(None)


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    moto_patches.apply()
    _reset_settings()
    try:
        yield
    finally:
        _reset_settings()


@pytest.fixture
def aws_env(fake_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def clock() -> FakeClock:
    fake = FakeClock()
    moto_patches.set_clock(fake)
    return fake


@pytest.fixture
def events() -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    moto_patches.add_lifecycle_listener(received.append)
    return received


@pytest.fixture(scope="module")
def session() -> boto3.session.Session:
    """One session for the module: moto replaces boto3's default session on every mock
    start, and a fresh session reloads the service models (0.25 s a client)."""
    return boto3.session.Session()


@pytest.fixture
def ec2(aws_env: None, session: boto3.session.Session) -> Any:
    return session.client("ec2", region_name=REGION)


@pytest.fixture
def asg(aws_env: None, session: boto3.session.Session) -> Any:
    return session.client("autoscaling", region_name=REGION)


@pytest.fixture
def ssm(aws_env: None, session: boto3.session.Session) -> Any:
    return session.client("ssm", region_name=REGION)


@pytest.fixture
def net(ec2: Any) -> dict[str, str]:
    """The seed article's network: one VPC, a /24 in each of two AZs, a launch template."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone=AZ_A)
    subnet_c = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=AZ_C)
    ec2.create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={"ImageId": IMAGE, "InstanceType": "t3.micro"},
    )
    return {
        "vpc": vpc,
        "a": subnet_a["Subnet"]["SubnetId"],
        "c": subnet_c["Subnet"]["SubnetId"],
    }


def _instances(ec2: Any, subnet: str, count: int = 1) -> list[str]:
    reservation = ec2.run_instances(ImageId=IMAGE, MinCount=count, MaxCount=count, SubnetId=subnet)
    return [i["InstanceId"] for i in reservation["Instances"]]


def _clients(session: boto3.session.Session, service: str, threads: int) -> list[Any]:
    """One client per thread, drawn from ten distinct clients (botocore clients are
    thread-safe; creating thirty costs more than the test)."""
    distinct = [session.client(service, region_name=REGION) for _ in range(10)]
    return [distinct[i % len(distinct)] for i in range(threads)]


def _race_attaches(session: boto3.session.Session, attaches: list[tuple[str, str]]) -> list[str]:
    """Each (ENI, instance) attached at device index 1 from a thread and client of its own,
    all released at once: per attach "attached" or the AWS error code it got."""
    clients = _clients(session, "ec2", len(attaches))
    barrier = threading.Barrier(len(attaches))

    def attach(index: int) -> str:
        eni, instance = attaches[index]
        barrier.wait()
        try:
            clients[index].attach_network_interface(
                NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1
            )
        except ClientError as err:
            return err.response["Error"]["Code"]
        return "attached"

    with ThreadPoolExecutor(max_workers=len(attaches)) as pool:
        return list(pool.map(attach, range(len(attaches))))


def _eni(ec2: Any, subnet: str, ip: str | None = None) -> str:
    kwargs = {"PrivateIpAddress": ip} if ip else {}
    eni = ec2.create_network_interface(SubnetId=subnet, **kwargs)["NetworkInterface"]
    return eni["NetworkInterfaceId"]


def _eni_view(ec2: Any, eni_id: str) -> dict[str, Any]:
    return ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def _hook_spec(
    name: str,
    transition: str = LAUNCHING,
    metadata: str | None = None,
    timeout: int = 300,
    default: str = "ABANDON",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "LifecycleHookName": name,
        "LifecycleTransition": transition,
        "HeartbeatTimeout": timeout,
        "DefaultResult": default,
    }
    if metadata is not None:
        spec["NotificationMetadata"] = metadata
    return spec


def _group(
    asg: Any,
    net: dict[str, str],
    desired: int,
    hooks: list[dict[str, Any]] | None = None,
    name: str = "web",
) -> None:
    kwargs: dict[str, Any] = {}
    if hooks:
        kwargs["LifecycleHookSpecificationList"] = hooks
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
        MinSize=0,
        MaxSize=40,
        DesiredCapacity=desired,
        VPCZoneIdentifier=f"{net['a']},{net['c']}",
        **kwargs,
    )


def _one_pending(asg: Any, net: dict[str, str], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Group `web` with one instance waiting on its launch hook `attach-eni`: the detail of
    the event that announced the action."""
    _group(asg, net, desired=1, hooks=[_hook_spec("attach-eni")])
    (event,) = events
    return event["detail"]


def _members(asg: Any, name: str = "web") -> dict[str, str]:
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return {i["InstanceId"]: i["LifecycleState"] for i in group["Instances"]}


def _complete(asg: Any, hook: str = "attach-eni", result: str = "CONTINUE", **target: str) -> None:
    """CompleteLifecycleAction for group `web`'s `hook`, by LifecycleActionToken or by
    InstanceId (`target`)."""
    asg.complete_lifecycle_action(
        AutoScalingGroupName="web", LifecycleHookName=hook, LifecycleActionResult=result, **target
    )


def _ec2_state(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


def _action(instance_id: str, hook: str) -> dict[str, Any]:
    matches = [
        a
        for a in moto_patches.lifecycle_actions(REGION)
        if a["instance_id"] == instance_id and a["hook"] == hook
    ]
    assert len(matches) == 1, matches
    return matches[0]


# ---------------------------------------------------------------------------------------
# apply(): idempotent, documented
# ---------------------------------------------------------------------------------------


def test_apply_is_idempotent_and_every_patch_is_documented() -> None:
    from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.instances import Instance
    from moto.ssm.models import SimpleSystemManagerBackend
    from moto.ssm.responses import SimpleSystemManagerResponse

    moto_patches.apply()
    before = EC2Backend.attach_network_interface
    moto_patches.apply()
    assert EC2Backend.attach_network_interface is before
    assert not getattr(before.__wrapped__, "__fixed_ip_patch__", False)

    patched = [
        getattr(cls, name)
        for cls in (
            EC2Backend,
            Instance,
            AutoScalingBackend,
            FakeAutoScalingGroup,
            AutoScalingResponse,
            SimpleSystemManagerBackend,
            SimpleSystemManagerResponse,
        )
        for name in dir(cls)
        if getattr(getattr(cls, name, None), "__fixed_ip_patch__", False)
    ]
    assert len(patched) >= 25
    undocumented = [f.__name__ for f in patched if not (f.__doc__ or "").strip()]
    assert undocumented == []


def test_state_lives_on_backends_and_is_reset_with_moto(
    fake_credentials: None, events: list[dict[str, Any]], session: boto3.session.Session
) -> None:
    with mock_aws():
        ec2 = session.client("ec2", region_name=REGION)
        asg = session.client("autoscaling", region_name=REGION)
        subnet = ec2.create_subnet(
            VpcId=ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"],
            CidrBlock="10.0.0.0/24",
            AvailabilityZone=AZ_A,
        )["Subnet"]["SubnetId"]
        ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": IMAGE})
        asg.create_auto_scaling_group(
            AutoScalingGroupName="web",
            LaunchTemplate={"LaunchTemplateName": "web"},
            MinSize=0,
            MaxSize=2,
            DesiredCapacity=1,
            VPCZoneIdentifier=subnet,
            LifecycleHookSpecificationList=[_hook_spec("attach")],
        )
        assert len(moto_patches.lifecycle_actions(REGION)) == 1
    with mock_aws():
        assert moto_patches.lifecycle_actions(REGION) == []
    assert len(events) == 1


# ---------------------------------------------------------------------------------------
# EC2 AttachNetworkInterface
# ---------------------------------------------------------------------------------------


def test_attaching_an_attached_eni_fails_in_use(ec2: Any, net: dict[str, str]) -> None:
    first, second = _instances(ec2, net["a"], 2)
    eni = _eni(ec2, net["a"], "10.0.0.4")
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=first, DeviceIndex=1)

    with pytest.raises(ClientError) as exc:
        ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=second, DeviceIndex=1)

    assert _error(exc) == ("InvalidNetworkInterface.InUse", f"Interface: [{eni}] in use.")
    assert _eni_view(ec2, eni)["Attachment"]["InstanceId"] == first


def test_taken_device_index_fails_invalid_parameter_value(ec2: Any, net: dict[str, str]) -> None:
    (instance,) = _instances(ec2, net["a"])
    first, second = _eni(ec2, net["a"]), _eni(ec2, net["a"])
    ec2.attach_network_interface(NetworkInterfaceId=first, InstanceId=instance, DeviceIndex=1)

    with pytest.raises(ClientError) as exc:
        ec2.attach_network_interface(NetworkInterfaceId=second, InstanceId=instance, DeviceIndex=1)

    assert _error(exc) == (
        "InvalidParameterValue",
        f"Instance '{instance}' already has an interface attached at device index '1'.",
    )
    assert _eni_view(ec2, second)["Status"] == "available"


def test_eni_from_another_az_fails_invalid_parameter_value(ec2: Any, net: dict[str, str]) -> None:
    (instance,) = _instances(ec2, net["a"])
    eni_c = _eni(ec2, net["c"])

    with pytest.raises(ClientError) as exc:
        ec2.attach_network_interface(NetworkInterfaceId=eni_c, InstanceId=instance, DeviceIndex=1)

    code, message = _error(exc)
    assert code == "InvalidParameterValue"
    assert "same Availability Zone" in message


@pytest.mark.parametrize("stop_first", [False, True])
def test_attaching_to_a_terminated_instance_fails_incorrect_instance_state(
    ec2: Any, net: dict[str, str], stop_first: bool
) -> None:
    (instance,) = _instances(ec2, net["a"])
    eni = _eni(ec2, net["a"])
    if stop_first:
        # A stopped instance still accepts an interface (AWS "cold attach").
        ec2.stop_instances(InstanceIds=[instance])
        ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1)
        eni = _eni(ec2, net["a"])
    ec2.terminate_instances(InstanceIds=[instance])

    with pytest.raises(ClientError) as exc:
        ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=2)

    assert _error(exc) == (
        "IncorrectInstanceState",
        f"The instance '{instance}' is not in a valid state for this operation.",
    )


def test_attachment_shows_device_index_and_delete_on_termination_false(
    ec2: Any, net: dict[str, str]
) -> None:
    (instance,) = _instances(ec2, net["a"])
    eni = _eni(ec2, net["a"], "10.0.0.5")
    ec2.modify_network_interface_attribute(
        NetworkInterfaceId=eni, Description={"Value": "pool"}
    )  # any pre-attach state is irrelevant to the new attachment
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1)

    view = _eni_view(ec2, eni)
    assert view["Status"] == "in-use"
    assert view["Attachment"]["DeviceIndex"] == 1
    assert view["Attachment"]["DeleteOnTermination"] is False
    assert view["Attachment"]["InstanceId"] == instance


@pytest.mark.slow
def test_thirty_threads_racing_for_one_eni_exactly_one_wins(
    ec2: Any, net: dict[str, str], session: boto3.session.Session
) -> None:
    instances = _instances(ec2, net["a"], 30)
    eni = _eni(ec2, net["a"], "10.0.0.4")
    outcomes = _race_attaches(session, [(eni, i) for i in instances])

    assert Counter(outcomes) == {"attached": 1, "InvalidNetworkInterface.InUse": 29}
    winner = instances[outcomes.index("attached")]
    assert _eni_view(ec2, eni)["Attachment"]["InstanceId"] == winner
    holders = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": instances}]
    )["NetworkInterfaces"]
    assert [n["NetworkInterfaceId"] for n in holders if n["NetworkInterfaceId"] == eni] == [eni]


@pytest.mark.slow
def test_thirty_threads_racing_for_one_device_index_exactly_one_wins(
    ec2: Any, net: dict[str, str], session: boto3.session.Session
) -> None:
    (instance,) = _instances(ec2, net["a"])
    enis = [_eni(ec2, net["a"]) for _ in range(30)]
    outcomes = _race_attaches(session, [(e, instance) for e in enis])

    assert Counter(outcomes) == {"attached": 1, "InvalidParameterValue": 29}
    statuses = Counter(_eni_view(ec2, e)["Status"] for e in enis)
    assert statuses == {"in-use": 1, "available": 29}


# ---------------------------------------------------------------------------------------
# EC2 termination releases secondary ENIs
# ---------------------------------------------------------------------------------------


def test_terminate_instances_releases_secondary_eni(ec2: Any, net: dict[str, str]) -> None:
    (instance,) = _instances(ec2, net["a"])
    eni = _eni(ec2, net["a"], "10.0.0.4")
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1)
    primary = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance]}]
    )["NetworkInterfaces"]
    primary_id = next(n["NetworkInterfaceId"] for n in primary if n["NetworkInterfaceId"] != eni)

    ec2.terminate_instances(InstanceIds=[instance])

    view = _eni_view(ec2, eni)
    assert view["Status"] == "available"
    assert "Attachment" not in view
    # The primary interface keeps moto's behaviour.
    assert _eni_view(ec2, primary_id)["Attachment"]["DeviceIndex"] == 0
    # Released: another instance in the AZ can take it.
    (other,) = _instances(ec2, net["a"])
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=other, DeviceIndex=1)


def test_scale_in_releases_secondary_eni(ec2: Any, asg: Any, net: dict[str, str]) -> None:
    _group(asg, net, desired=1)
    (instance,) = _members(asg)
    subnet = _ec2_subnet(ec2, instance)
    eni = _eni(ec2, subnet)
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1)

    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=0)

    assert _ec2_state(ec2, instance) == "terminated"
    assert _eni_view(ec2, eni)["Status"] == "available"


def _ec2_subnet(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["SubnetId"]


# ---------------------------------------------------------------------------------------
# Auto Scaling lifecycle hooks
# ---------------------------------------------------------------------------------------


def test_launch_hook_puts_new_instances_in_pending_wait_with_aws_shaped_events(
    asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    metadata = json.dumps({"pool": "web", "device_index": 1})
    _group(asg, net, desired=2, hooks=[_hook_spec("attach-eni", metadata=metadata)])

    members = _members(asg)
    assert sorted(members.values()) == ["Pending:Wait", "Pending:Wait"]
    described = asg.describe_auto_scaling_instances(InstanceIds=list(members))
    assert {i["LifecycleState"] for i in described["AutoScalingInstances"]} == {"Pending:Wait"}

    group_arn = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])[
        "AutoScalingGroups"
    ][0]["AutoScalingGroupARN"]
    assert len(events) == 2
    for event in events:
        assert list(event) == [*TOP_KEYS, "detail"]
        uuid.UUID(event["id"])
        assert event["version"] == "0"
        assert event["detail-type"] == "EC2 Instance-launch Lifecycle Action"
        assert event["source"] == "aws.autoscaling"
        assert event["account"] == ACCOUNT
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
        assert event["region"] == REGION
        assert event["resources"] == [group_arn]
        detail = event["detail"]
        assert list(detail) == DETAIL_KEYS
        uuid.UUID(detail["LifecycleActionToken"])
        assert detail["AutoScalingGroupName"] == "web"
        assert detail["LifecycleHookName"] == "attach-eni"
        assert detail["EC2InstanceId"] in members
        assert detail["LifecycleTransition"] == LAUNCHING
        assert detail["NotificationMetadata"] == metadata
        assert (detail["Origin"], detail["Destination"]) == ("EC2", "AutoScalingGroup")
        assert (
            moto_patches.active_token(detail["EC2InstanceId"], "attach-eni", REGION)
            == (detail["LifecycleActionToken"])
        )
    tokens = {e["detail"]["LifecycleActionToken"] for e in events}
    assert len(tokens) == 2
    hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName="web")["LifecycleHooks"]
    assert hooks[0]["NotificationMetadata"] == metadata


def test_event_without_metadata_has_no_notification_metadata(
    asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    _group(asg, net, desired=1, hooks=[_hook_spec("attach-eni")])
    assert "NotificationMetadata" not in events[0]["detail"]


def test_hook_gates_only_instances_launched_after_it(
    asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    _group(asg, net, desired=1)
    (old,) = _members(asg)
    asg.put_lifecycle_hook(
        AutoScalingGroupName="web",
        LifecycleHookName="attach-eni",
        LifecycleTransition=LAUNCHING,
        HeartbeatTimeout=300,
        DefaultResult="ABANDON",
        NotificationMetadata='{"pool": "web"}',
    )

    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=2)

    members = _members(asg)
    (new,) = set(members) - {old}
    assert members == {old: "InService", new: "Pending:Wait"}
    assert [e["detail"]["EC2InstanceId"] for e in events] == [new]
    assert events[0]["detail"]["NotificationMetadata"] == '{"pool": "web"}'
    # Pending:Wait counts toward the desired capacity: asking again launches nothing.
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=2)
    assert len(_members(asg)) == 2


def test_complete_with_wrong_token_or_instance_fails_validation_error(
    asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    detail = _one_pending(asg, net, events)
    instance, token = detail["EC2InstanceId"], detail["LifecycleActionToken"]
    bad_token = str(uuid.uuid4())

    with pytest.raises(ClientError) as exc:
        _complete(asg, LifecycleActionToken=bad_token)
    assert _error(exc) == (
        "ValidationError",
        f"No active Lifecycle Action found with token {bad_token}",
    )

    with pytest.raises(ClientError) as exc:
        _complete(asg, InstanceId="i-0123456789abcdef0")
    assert _error(exc) == (
        "ValidationError",
        "No active Lifecycle Action found with instance ID i-0123456789abcdef0",
    )

    for group, hook in (("other", "attach-eni"), ("web", "other-hook")):
        with pytest.raises(ClientError) as exc:
            asg.complete_lifecycle_action(
                AutoScalingGroupName=group,
                LifecycleHookName=hook,
                LifecycleActionResult="CONTINUE",
                LifecycleActionToken=token,
            )
        assert _error(exc)[0] == "ValidationError"

    # Token and instance must both match.
    with pytest.raises(ClientError) as exc:
        _complete(asg, LifecycleActionToken=token, InstanceId="i-0123456789abcdef0")
    assert _error(exc) == (
        "ValidationError",
        f"No active Lifecycle Action found with token {token}",
    )
    assert _members(asg) == {instance: "Pending:Wait"}


def test_continue_puts_the_instance_in_service_and_a_duplicate_fails(
    asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    detail = _one_pending(asg, net, events)
    complete = {
        "AutoScalingGroupName": "web",
        "LifecycleHookName": "attach-eni",
        "LifecycleActionResult": "CONTINUE",
        "LifecycleActionToken": detail["LifecycleActionToken"],
    }

    asg.complete_lifecycle_action(**complete)

    assert _members(asg) == {detail["EC2InstanceId"]: "InService"}
    action = _action(detail["EC2InstanceId"], "attach-eni")
    assert (action["state"], action["result"]) == ("completed", "CONTINUE")
    assert moto_patches.active_token(detail["EC2InstanceId"], "attach-eni", REGION) is None
    with pytest.raises(ClientError) as exc:
        asg.complete_lifecycle_action(**complete)
    assert _error(exc) == (
        "ValidationError",
        f"No active Lifecycle Action found with token {detail['LifecycleActionToken']}",
    )


def test_continue_by_instance_id_waits_for_every_launch_hook(
    asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    _group(asg, net, desired=1, hooks=[_hook_spec("attach-eni"), _hook_spec("warm-up")])
    (instance,) = _members(asg)
    assert len(events) == 2

    _complete(asg, InstanceId=instance)
    assert _members(asg) == {instance: "Pending:Wait"}
    _complete(asg, "warm-up", InstanceId=instance)
    assert _members(asg) == {instance: "InService"}


def test_abandon_terminates_the_instance_and_removes_it(
    ec2: Any, asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    detail = _one_pending(asg, net, events)
    instance = detail["EC2InstanceId"]
    eni = _eni(ec2, _ec2_subnet(ec2, instance))
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1)

    _complete(asg, "attach-eni", "ABANDON", LifecycleActionToken=detail["LifecycleActionToken"])

    assert _ec2_state(ec2, instance) == "terminated"
    assert _members(asg) == {}
    assert _eni_view(ec2, eni)["Status"] == "available"
    assert _action(instance, "attach-eni")["result"] == "ABANDON"
    # Replacement is left to the caller: asking for the capacity again relaunches.
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=1)
    assert list(_members(asg).values()) == ["Pending:Wait"]
    assert len(events) == 2


def test_heartbeat_is_recorded_and_needs_an_active_action(
    asg: Any, net: dict[str, str], events: list[dict[str, Any]], clock: FakeClock
) -> None:
    detail = _one_pending(asg, net, events)
    instance, token = detail["EC2InstanceId"], detail["LifecycleActionToken"]
    clock.advance(40)

    asg.record_lifecycle_action_heartbeat(
        AutoScalingGroupName="web", LifecycleHookName="attach-eni", LifecycleActionToken=token
    )
    asg.record_lifecycle_action_heartbeat(
        AutoScalingGroupName="web", LifecycleHookName="attach-eni", InstanceId=instance
    )

    action = _action(instance, "attach-eni")
    assert action["heartbeats"] == 2
    assert action["last_heartbeat"].timestamp() == clock.now
    assert action["created_at"].timestamp() == clock.now - 40
    _complete(asg, LifecycleActionToken=token)
    with pytest.raises(ClientError) as exc:
        asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName="web", LifecycleHookName="attach-eni", LifecycleActionToken=token
        )
    assert _error(exc) == (
        "ValidationError",
        f"No active Lifecycle Action found with token {token}",
    )


def test_heartbeat_timeout_applies_the_default_result(
    ec2: Any, asg: Any, net: dict[str, str], events: list[dict[str, Any]], clock: FakeClock
) -> None:
    _group(asg, net, desired=1, hooks=[_hook_spec("attach-eni", timeout=60)])
    detail = events[0]["detail"]
    instance = detail["EC2InstanceId"]
    clock.advance(50)
    asg.record_lifecycle_action_heartbeat(
        AutoScalingGroupName="web",
        LifecycleHookName="attach-eni",
        LifecycleActionToken=detail["LifecycleActionToken"],
    )
    clock.advance(50)
    assert moto_patches.expire_lifecycle_actions(REGION) == []

    clock.advance(11)
    (expired,) = moto_patches.expire_lifecycle_actions(REGION)

    assert (expired["instance_id"], expired["result"], expired["timed_out"]) == (
        instance,
        "ABANDON",
        True,
    )
    assert _ec2_state(ec2, instance) == "terminated"


def test_terminate_hook_holds_scale_in_in_terminating_wait(
    ec2: Any, asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    _group(asg, net, desired=2, hooks=[_hook_spec("release-eni", transition=TERMINATING)])
    assert set(_members(asg).values()) == {"InService"}
    assert events == []

    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=1)

    members = _members(asg)
    assert sorted(members.values()) == ["InService", "Terminating:Wait"]
    (leaving,) = [i for i, s in members.items() if s == "Terminating:Wait"]
    assert _ec2_state(ec2, leaving) == "running"
    (event,) = events
    assert event["detail-type"] == "EC2 Instance-terminate Lifecycle Action"
    detail = event["detail"]
    assert detail["EC2InstanceId"] == leaving
    assert detail["LifecycleTransition"] == TERMINATING
    assert (detail["Origin"], detail["Destination"]) == ("AutoScalingGroup", "EC2")
    # Terminating instances do not count toward the capacity: nothing relaunches.
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=1)
    assert len(_members(asg)) == 2

    _complete(asg, "release-eni", LifecycleActionToken=detail["LifecycleActionToken"])

    assert _ec2_state(ec2, leaving) == "terminated"
    assert list(_members(asg).values()) == ["InService"]


def test_terminate_instance_in_group_with_terminate_hook_waits_and_replaces(
    ec2: Any, asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    _group(
        asg,
        net,
        desired=1,
        hooks=[_hook_spec("attach-eni"), _hook_spec("release-eni", transition=TERMINATING)],
    )
    (first,) = _members(asg)
    _complete(asg, InstanceId=first)

    asg.terminate_instance_in_auto_scaling_group(
        InstanceId=first, ShouldDecrementDesiredCapacity=False
    )

    members = _members(asg)
    assert members[first] == "Terminating:Wait"
    (replacement,) = set(members) - {first}
    assert members[replacement] == "Pending:Wait"
    assert [e["detail"]["LifecycleHookName"] for e in events] == [
        "attach-eni",
        "release-eni",
        "attach-eni",
    ]
    _complete(asg, "release-eni", "ABANDON", InstanceId=first)
    assert _ec2_state(ec2, first) == "terminated"
    assert _members(asg) == {replacement: "Pending:Wait"}


def test_ec2_termination_of_a_pending_instance_cancels_its_action_and_replaces_it(
    ec2: Any, asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    detail = _one_pending(asg, net, events)
    first = detail["EC2InstanceId"]

    ec2.terminate_instances(InstanceIds=[first])

    with pytest.raises(ClientError) as exc:
        _complete(asg, LifecycleActionToken=detail["LifecycleActionToken"])
    assert _error(exc)[0] == "ValidationError"
    assert _action(first, "attach-eni")["state"] == "cancelled"
    (replacement,) = _members(asg)
    assert replacement != first
    assert _members(asg)[replacement] == "Pending:Wait"
    assert events[-1]["detail"]["EC2InstanceId"] == replacement


def test_hook_update_keeps_unset_fields_and_group_deletion_drops_hooks_and_actions(
    ec2: Any, asg: Any, net: dict[str, str], events: list[dict[str, Any]]
) -> None:
    _group(
        asg,
        net,
        desired=1,
        hooks=[_hook_spec("attach-eni", metadata="m1"), _hook_spec("release", TERMINATING)],
    )
    asg.put_lifecycle_hook(
        AutoScalingGroupName="web", LifecycleHookName="attach-eni", HeartbeatTimeout=900
    )
    hooks = {
        h["LifecycleHookName"]: h
        for h in asg.describe_lifecycle_hooks(AutoScalingGroupName="web")["LifecycleHooks"]
    }
    assert hooks["attach-eni"]["LifecycleTransition"] == LAUNCHING
    assert hooks["attach-eni"]["HeartbeatTimeout"] == 900
    assert hooks["attach-eni"]["NotificationMetadata"] == "m1"
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=2)
    members = list(_members(asg))
    assert len(members) == 2

    asg.delete_auto_scaling_group(AutoScalingGroupName="web", ForceDelete=True)

    assert {_ec2_state(ec2, i) for i in members} == {"terminated"}
    assert {a["state"] for a in moto_patches.lifecycle_actions(REGION)} == {"cancelled"}
    _group(asg, net, desired=1)
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName="web")["LifecycleHooks"] == []
    assert list(_members(asg).values()) == ["InService"]


def test_listeners_run_outside_the_lock_and_their_errors_do_not_fail_requests(
    asg: Any, net: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    lock_free: list[bool] = []

    def probe(event: dict[str, Any]) -> None:
        def try_lock() -> None:
            acquired = moto_patches.LOCK.acquire(timeout=2)
            lock_free.append(acquired)
            if acquired:
                moto_patches.LOCK.release()

        other = threading.Thread(target=try_lock)
        other.start()
        other.join()

    def complete(event: dict[str, Any]) -> None:
        # A listener may call AWS synchronously, as a Lambda target would.
        boto3.client("autoscaling", region_name=REGION).complete_lifecycle_action(
            AutoScalingGroupName=event["detail"]["AutoScalingGroupName"],
            LifecycleHookName=event["detail"]["LifecycleHookName"],
            LifecycleActionResult="CONTINUE",
            LifecycleActionToken=event["detail"]["LifecycleActionToken"],
        )

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("listener failure")

    moto_patches.add_lifecycle_listener(probe)
    moto_patches.add_lifecycle_listener(broken)
    moto_patches.add_lifecycle_listener(complete)
    with caplog.at_level(logging.ERROR, logger=moto_patches.__name__):
        _group(asg, net, desired=2, hooks=[_hook_spec("attach-eni")])

    assert lock_free == [True, True]
    assert set(_members(asg).values()) == {"InService"}
    assert "listener failure" in caplog.text


@pytest.mark.slow
def test_concurrent_duplicate_completions_complete_each_action_once(
    asg: Any, net: dict[str, str], events: list[dict[str, Any]], session: boto3.session.Session
) -> None:
    _group(asg, net, desired=15, hooks=[_hook_spec("attach-eni")])
    tokens = [e["detail"]["LifecycleActionToken"] for e in events] * 2
    clients = _clients(session, "autoscaling", len(tokens))
    barrier = threading.Barrier(len(tokens))

    def complete(index: int) -> str:
        barrier.wait()
        try:
            clients[index].complete_lifecycle_action(
                AutoScalingGroupName="web",
                LifecycleHookName="attach-eni",
                LifecycleActionResult="CONTINUE",
                LifecycleActionToken=tokens[index],
            )
        except ClientError as err:
            return err.response["Error"]["Code"]
        return "completed"

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        outcomes = list(pool.map(complete, range(len(tokens))))

    assert Counter(outcomes) == {"completed": 15, "ValidationError": 15}
    assert Counter(_members(asg).values()) == {"InService": 15}


# ---------------------------------------------------------------------------------------
# Auto Scaling spreads launches over the group's subnets
# ---------------------------------------------------------------------------------------


def test_group_instances_are_balanced_over_the_subnets(
    ec2: Any, asg: Any, net: dict[str, str]
) -> None:
    def per_subnet() -> Counter[str]:
        return Counter(_ec2_subnet(ec2, i) for i in _members(asg))

    _group(asg, net, desired=4)
    assert per_subnet() == {net["a"]: 2, net["c"]: 2}

    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=5)
    assert sorted(per_subnet().values()) == [2, 3]

    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=2)
    assert per_subnet() == {net["a"]: 1, net["c"]: 1}
    zones = {
        i["AvailabilityZone"] for i in asg.describe_auto_scaling_instances()["AutoScalingInstances"]
    }
    assert zones == {AZ_A, AZ_C}


# ---------------------------------------------------------------------------------------
# SSM
# ---------------------------------------------------------------------------------------


def _hostname_document(ssm: Any) -> None:
    content = {
        "schemaVersion": "2.2",
        "description": "Set the OS host name",
        "parameters": {
            "HostName": {
                "type": "String",
                "description": "RFC 1123 host name",
                "allowedPattern": HOSTNAME_PATTERN,
            }
        },
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "setHostname",
                "inputs": {"runCommand": ["hostnamectl set-hostname '{{ HostName }}'"]},
            }
        ],
    }
    ssm.create_document(
        Name=HOSTNAME_DOC,
        Content=json.dumps(content),
        DocumentType="Command",
        DocumentFormat="JSON",
    )


def _set_hostname(ssm: Any, instance: str, name: str) -> str:
    command = ssm.send_command(
        InstanceIds=[instance], DocumentName=HOSTNAME_DOC, Parameters={"HostName": [name]}
    )["Command"]
    return command["CommandId"]


def _info(ssm: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return ssm.describe_instance_information(**kwargs)["InstanceInformationList"]


def test_instances_are_managed_and_online_by_default(
    ec2: Any, ssm: Any, net: dict[str, str]
) -> None:
    (instance,) = _instances(ec2, net["a"])
    private_ip = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "PrivateIpAddress"
    ]

    (info,) = _info(ssm)

    assert info["InstanceId"] == instance
    assert info["PingStatus"] == "Online"
    assert info["PlatformType"] == "Linux"
    assert info["ResourceType"] == "EC2Instance"
    assert info["IPAddress"] == private_ip
    assert info["AgentVersion"]


def test_agent_comes_online_after_its_delay_and_send_command_waits_for_it(
    ec2: Any, ssm: Any, net: dict[str, str], clock: FakeClock
) -> None:
    moto_patches.set_auto_register(45.0)
    (instance,) = _instances(ec2, net["a"])
    clock.advance(30)

    assert _info(ssm) == []
    with pytest.raises(ClientError) as exc:
        ssm.send_command(
            InstanceIds=[instance],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["true"]},
        )
    assert _error(exc) == (
        "InvalidInstanceId",
        f"Instances [[{instance}]] not in a valid state for account {ACCOUNT}",
    )

    clock.advance(15)
    assert [i["PingStatus"] for i in _info(ssm)] == ["Online"]
    ssm.send_command(
        InstanceIds=[instance], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}
    )


def test_unregistered_stopped_and_terminated_instances(
    ec2: Any, ssm: Any, net: dict[str, str]
) -> None:
    moto_patches.set_auto_register(None)
    stopped, terminated, late = _instances(ec2, net["a"], 3)
    assert _info(ssm) == []
    with pytest.raises(ClientError) as exc:
        ssm.send_command(InstanceIds=[late], DocumentName="AWS-RunShellScript")
    assert _error(exc)[0] == "InvalidInstanceId"

    for instance in (stopped, terminated, late):
        moto_patches.register_managed_instance(instance, region=REGION)
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.terminate_instances(InstanceIds=[terminated])

    statuses = {i["InstanceId"]: i["PingStatus"] for i in _info(ssm)}
    assert statuses == {stopped: "ConnectionLost", late: "Online"}
    with pytest.raises(ClientError) as exc:
        ssm.send_command(InstanceIds=[stopped], DocumentName="AWS-RunShellScript")
    assert _error(exc)[0] == "InvalidInstanceId"


def test_describe_instance_information_filters_and_pages(
    ec2: Any, ssm: Any, net: dict[str, str]
) -> None:
    instances = _instances(ec2, net["a"], 7)
    wanted = instances[:2]

    by_filter_list = _info(
        ssm, InstanceInformationFilterList=[{"key": "InstanceIds", "valueSet": wanted}]
    )
    by_filters = _info(ssm, Filters=[{"Key": "InstanceIds", "Values": wanted}])
    by_ping = _info(ssm, Filters=[{"Key": "PingStatus", "Values": ["ConnectionLost"]}])

    assert sorted(i["InstanceId"] for i in by_filter_list) == sorted(wanted)
    assert sorted(i["InstanceId"] for i in by_filters) == sorted(wanted)
    assert by_ping == []
    pages = ssm.get_paginator("describe_instance_information").paginate(
        PaginationConfig={"PageSize": 5}
    )
    sizes = [len(p["InstanceInformationList"]) for p in pages]
    assert sizes == [5, 2]


def test_send_command_validates_parameters_against_the_document(
    ec2: Any, ssm: Any, net: dict[str, str]
) -> None:
    _hostname_document(ssm)
    (instance,) = _instances(ec2, net["a"])
    bad = [
        {"HostName": ["Server_A1; reboot"]},  # does not match allowedPattern
        {"HostName": ["server-a1"], "Extra": ["x"]},  # not declared by the document
        {},  # required (no default) and missing
    ]
    for parameters in bad:
        with pytest.raises(ClientError) as exc:
            ssm.send_command(
                InstanceIds=[instance], DocumentName=HOSTNAME_DOC, Parameters=parameters
            )
        assert _error(exc)[0] == "InvalidParameters", parameters

    assert ssm.list_commands()["Commands"] == []
    command_id = _set_hostname(ssm, instance, "server-a1")
    assert command_id


def test_send_command_runs_only_on_the_instances_named(
    ec2: Any, ssm: Any, net: dict[str, str]
) -> None:
    _hostname_document(ssm)
    target, bystander = _instances(ec2, net["a"], 2)
    ec2.create_tags(Resources=[bystander], Tags=[{"Key": "Role", "Value": "db"}])

    command_id = _set_hostname(ssm, target, "server-a1")

    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["InstanceIds"] == [target]
    invocations = ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"]
    assert [i["InstanceId"] for i in invocations] == [target]
    assert moto_patches.os_hostname(target, REGION) == "server-a1"
    assert moto_patches.os_hostname(bystander, REGION) is None
    by_tag = ssm.send_command(
        Targets=[{"Key": "tag:Role", "Values": ["db"]}],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["true"]},
    )["Command"]
    tagged = ssm.list_command_invocations(CommandId=by_tag["CommandId"])["CommandInvocations"]
    assert [i["InstanceId"] for i in tagged] == [bystander]


def test_command_outcome_failed_is_reported_and_sets_no_hostname(
    ec2: Any, ssm: Any, net: dict[str, str]
) -> None:
    _hostname_document(ssm)
    (instance,) = _instances(ec2, net["a"])
    moto_patches.set_command_outcome(instance, "Failed", region=REGION)

    command_id = _set_hostname(ssm, instance, "server-a1")

    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
    assert (invocation["Status"], invocation["StatusDetails"], invocation["ResponseCode"]) == (
        "Failed",
        "Failed",
        1,
    )
    (listed,) = ssm.list_command_invocations(CommandId=command_id, Details=True)[
        "CommandInvocations"
    ]
    assert listed["Status"] == "Failed"
    assert listed["CommandPlugins"][0]["ResponseCode"] == 1
    assert listed["CommandPlugins"][0]["Name"] == "setHostname"
    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] == "Failed"
    assert moto_patches.os_hostname(instance, REGION) is None


def test_command_in_progress_then_success_sets_the_os_hostname(
    ec2: Any, ssm: Any, net: dict[str, str], clock: FakeClock
) -> None:
    _hostname_document(ssm)
    (instance,) = _instances(ec2, net["a"])
    moto_patches.set_command_outcome(instance, "Success", delay_seconds=5, region=REGION)

    sent = ssm.send_command(
        InstanceIds=[instance], DocumentName=HOSTNAME_DOC, Parameters={"HostName": ["server-a1"]}
    )["Command"]
    assert sent["Status"] == "Pending"

    invocation = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance)
    assert (invocation["Status"], invocation["ResponseCode"]) == ("InProgress", -1)
    assert invocation["PluginName"] == "setHostname"
    assert moto_patches.os_hostname(instance, REGION) is None

    clock.advance(5)
    invocation = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance)
    assert (invocation["Status"], invocation["StatusDetails"], invocation["ResponseCode"]) == (
        "Success",
        "Success",
        0,
    )
    assert moto_patches.os_hostname(instance, REGION) == "server-a1"
    assert _info(ssm)[0]["ComputerName"] == "server-a1"


@pytest.mark.parametrize(
    ("status", "details"), [("TimedOut", "ExecutionTimedOut"), ("Cancelled", "Cancelled")]
)
def test_command_timed_out_or_cancelled(
    ec2: Any, ssm: Any, net: dict[str, str], status: str, details: str
) -> None:
    _hostname_document(ssm)
    (instance,) = _instances(ec2, net["a"])
    moto_patches.set_command_outcome(instance, status, region=REGION)

    command_id = _set_hostname(ssm, instance, "server-a1")

    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
    assert (invocation["Status"], invocation["StatusDetails"]) == (status, details)
    assert moto_patches.os_hostname(instance, REGION) is None


def test_os_hostname_is_the_last_successfully_set_value(
    ec2: Any, ssm: Any, net: dict[str, str]
) -> None:
    _hostname_document(ssm)
    (instance,) = _instances(ec2, net["a"])
    _set_hostname(ssm, instance, "server-a1")
    moto_patches.set_command_outcome(instance, "Failed", region=REGION)
    _set_hostname(ssm, instance, "server-a2")
    assert moto_patches.os_hostname(instance, REGION) == "server-a1"

    moto_patches.set_command_outcome(instance, "Success", region=REGION)
    _set_hostname(ssm, instance, "server-a3")
    assert moto_patches.os_hostname(instance, REGION) == "server-a3"
    with pytest.raises(ValueError, match="status must be one of"):
        moto_patches.set_command_outcome(instance, "Exploded", region=REGION)


# ---------------------------------------------------------------------------------------
# ThreadedMotoServer in the same process
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_patches_hold_for_a_threaded_moto_server(
    fake_credentials: None, session: boto3.session.Session
) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        ec2 = session.client("ec2", region_name=REGION, endpoint_url=url)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone=AZ_A)
        subnet_id = subnet["Subnet"]["SubnetId"]
        first, second = _instances(ec2, subnet_id, 2)
        eni = _eni(ec2, subnet_id)
        ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=first, DeviceIndex=1)
        with pytest.raises(ClientError) as exc:
            ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=second, DeviceIndex=1)
        assert _error(exc)[0] == "InvalidNetworkInterface.InUse"
        ssm = session.client("ssm", region_name=REGION, endpoint_url=url)
        assert {i["InstanceId"] for i in _info(ssm)} == {first, second}
    finally:
        server.stop()
        from moto.core.base_backend import BackendDict

        BackendDict.reset()


def test_new_instances_never_get_an_address_an_eni_holds(ec2: Any, net: dict[str, str]) -> None:
    """AWS assigns a free address; moto would reuse the pool ENIs' explicit addresses."""
    held = {
        _eni_view(ec2, _eni(ec2, net["a"], f"10.0.0.{n}"))["PrivateIpAddress"] for n in (4, 5, 6)
    }
    instances = _instances(ec2, net["a"], count=3)
    reservations = ec2.describe_instances(InstanceIds=instances)["Reservations"]
    primary = {i["PrivateIpAddress"] for r in reservations for i in r["Instances"]}
    assert len(primary) == 3 and not primary & held
