"""moto + the fidelity patches, and a fresh LaunchFunction container per test: fault
injection changes a container's botocore clients (retry quota, adaptive rate limiter),
so no test inherits another's."""

from __future__ import annotations

import os

import boto3
import botocore.session
import pytest

from fixed_ip_local import faults
from fixed_ip_local.lambda_runner import (
    FunctionRunner,
    TemplateFunction,
    collect_logs,
    detach_logs,
)
from fixed_ip_local.simulation import FAST_POLLS
from fixed_ip_local.world import DOCUMENT_NAME

# The functions build their boto3 session in their container (fixed_ip.wiring); giving
# those sessions one botocore session caches the parsed service models (most of a
# client's creation time). Each client keeps its own retry quota and rate limiter.
_FUNCTIONS_BOTOCORE = botocore.session.get_session()


class _CachedModelsSession(boto3.session.Session):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("botocore_session", _FUNCTIONS_BOTOCORE)
        super().__init__(*args, **kwargs)


@pytest.fixture
def make_runner(aws, monkeypatch):
    """`make_runner(**template_parameters)`: a new LaunchFunction container (fast SSM
    polls, as the simulation uses); `runner.logs` holds its log lines. The process
    environment the runner sets is restored afterwards."""
    saved = dict(os.environ)
    made: list[FunctionRunner] = []
    monkeypatch.setattr(boto3.session, "Session", _CachedModelsSession)

    def make(logical_id: str = "LaunchFunction", **parameters: str) -> FunctionRunner:
        fn = TemplateFunction.from_template(
            logical_id,
            parameters=parameters or None,
            resource_names={"ConfigureDocument": DOCUMENT_NAME},
        )
        runner = FunctionRunner(fn, extra_env=FAST_POLLS)
        runner.logs = collect_logs(runner)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        detach_logs(runner, runner.logs)
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def plan():
    """A fault plan, with botocore's waits shrunk 100 times (its retry decisions kept)."""
    with faults.inject() as active, faults.fast_retries(0.01) as delays:
        active.delays = delays
        yield active
