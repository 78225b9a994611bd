"""moto + the fidelity patches (as tests/integration), an empty VPC shaped like the seed
environment, and a runner for the `fixed-ip` command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from fixed_ip_cli import awsutil, main
from fixed_ip_local import moto_patches

REGION = "ap-northeast-1"
_BOTOCORE = botocore.session.get_session()

# Creating a boto3 client builds one method per operation (about 700 for EC2) and copies
# the session's event hooks: it would dominate these tests. Clients hold no AWS state
# (moto's stub answers whichever mock is active), so one client per service and region
# serves every test, the tests' own calls and the CLI's alike.
_CLIENTS: dict[tuple[str, str], Any] = {}
real_client = awsutil.client  # the CLI's own client factory, for tests that alter a client


def shared_client(service: str, region: str = REGION) -> Any:
    key = (service, region)
    if key not in _CLIENTS:
        session = boto3.Session(region_name=region, botocore_session=_BOTOCORE)
        _CLIENTS[key] = real_client(session, service)
    return _CLIENTS[key]


def fresh_client(service: str) -> Any:
    """A client of its own (for a test that registers event handlers on it)."""
    return real_client(boto3.Session(region_name=REGION, botocore_session=_BOTOCORE), service)


def refuse_call(
    monkeypatch: pytest.MonkeyPatch, service: str, operation: str, code: str, message: str
) -> None:
    """The CLI's clients answer `service`'s `operation` with the AWS error `code`, as AWS
    would (a denied permission, a refused pattern), before any request is sent. Each is a
    client of its own: a handler on a shared client would outlive the test."""
    from botocore.exceptions import ClientError

    def refused(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": message}}, operation)

    def client(session: Any, name: str) -> Any:
        made = fresh_client(name)
        made.meta.events.register(f"before-call.{service}.{operation}", refused)
        return made

    monkeypatch.setattr(awsutil, "client", client)


class Clients:
    """What the tests and the world builders use as a boto3 session."""

    region_name = REGION

    def client(self, service: str) -> Any:
        return shared_client(service)


@pytest.fixture
def aws() -> Iterator[Clients]:
    moto_patches.apply()
    with mock_aws():
        yield Clients()
    moto_patches.clear_lifecycle_listeners()


@pytest.fixture(autouse=True)
def _shared_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's clients come from the shared ones once its session has a region (a session
    without one goes through the real factory, which reports the missing region)."""

    def client(session: Any, service: str) -> Any:
        if session.region_name is None:
            return real_client(session, service)
        return shared_client(service, session.region_name)

    monkeypatch.setattr(awsutil, "client", client)


@pytest.fixture
def real_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI makes its clients itself, from its own session (credentials, region)."""
    monkeypatch.setattr(awsutil, "client", real_client)


@dataclass
class Vpc:
    id: str
    subnets: dict[str, str]  # Name tag -> subnet id
    azs: dict[str, str]  # Name tag -> AZ
    # Where tests start instances: moto gives an instance's primary interface the first
    # host address of its subnet even when an ENI already holds it (AWS never would).
    instance_subnets: dict[str, str]  # AZ -> subnet id


@pytest.fixture
def seed_vpc(aws: Clients) -> Vpc:
    """The example stack's network without its ENIs: VPC fixed-ip-example, subnets
    fixed-ip-example-a (10.0.0.0/24) and fixed-ip-example-c (10.0.1.0/24)."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "fixed-ip-example"}]}
        ],
    )["Vpc"]["VpcId"]
    subnets, azs = {}, {}
    for letter, cidr in (("a", "10.0.0.0/24"), ("c", "10.0.1.0/24")):
        name = f"fixed-ip-example-{letter}"
        az = f"{REGION}{letter}"
        subnets[name] = ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=cidr,
            AvailabilityZone=az,
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": name}]}
            ],
        )["Subnet"]["SubnetId"]
        azs[name] = az
    instance_subnets = {
        az: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for az, cidr in (("ap-northeast-1a", "10.0.2.0/24"), ("ap-northeast-1c", "10.0.3.0/24"))
    }
    return Vpc(id=vpc, subnets=subnets, azs=azs, instance_subnets=instance_subnets)


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """`run("pool", "status")`: the console script's main() in-process, with its exit code,
    stdout and stderr."""

    def invoke(*argv: str) -> Result:
        capsys.readouterr()
        try:
            code = main.main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
