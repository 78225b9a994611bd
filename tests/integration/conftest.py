"""moto + the fidelity patches, the seed world, and the LaunchFunction of template.yaml
run the way Lambda runs it."""

from __future__ import annotations

import boto3
import botocore.session
import pytest
from moto import mock_aws

from fixed_ip_local import moto_patches
from fixed_ip_local.lambda_runner import FunctionRunner, TemplateFunction, collect_logs, detach_logs
from fixed_ip_local.world import DOCUMENT_NAME, build_world

REGION = "ap-northeast-1"
# One botocore session for every test: it caches the parsed service models, which take
# most of a client's creation time.
_BOTOCORE = botocore.session.get_session()


@pytest.fixture
def aws():
    moto_patches.apply()
    with mock_aws():
        yield boto3.Session(region_name=REGION, botocore_session=_BOTOCORE)
    moto_patches.clear_lifecycle_listeners()
    moto_patches.set_auto_register(0.0)


@pytest.fixture
def events(aws):
    """Every lifecycle event Auto Scaling publishes, in order."""
    published: list[dict] = []
    moto_patches.add_lifecycle_listener(published.append)
    return published


@pytest.fixture
def world(aws, events):
    return build_world(aws, per_az=3, azs=2)


@pytest.fixture(scope="session")
def launch_function():
    return TemplateFunction.from_template(
        "LaunchFunction", resource_names={"HostnameDocument": DOCUMENT_NAME}
    )


@pytest.fixture(scope="session")
def warm_launch(launch_function):
    """One warm container of LaunchFunction for the session, as Lambda reuses one."""
    return FunctionRunner(launch_function)


@pytest.fixture
def launch(aws, warm_launch):
    """LaunchFunction; `launch.logs` collects the log lines of this test only."""
    warm_launch.logs = collect_logs(warm_launch)
    yield warm_launch
    detach_logs(warm_launch, warm_launch.logs)
