"""moto + the fidelity patches, the seed world, and the LaunchFunction of template.yaml
run the way Lambda runs it."""

from __future__ import annotations

import pytest

from fixed_ip_local.lambda_runner import FunctionRunner, TemplateFunction, collect_logs, detach_logs
from fixed_ip_local.world import DOCUMENT_NAME, build_world


@pytest.fixture
def world(aws, events):
    return build_world(aws, per_az=3, azs=2)


@pytest.fixture(scope="session")
def launch_function():
    return TemplateFunction.from_template(
        "LaunchFunction", resource_names={"ConfigureDocument": DOCUMENT_NAME}
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
