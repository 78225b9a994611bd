"""Fixtures for every test: no test may reach a real AWS account. `aws` and `events`
(moto with the fidelity patches, and the lifecycle events Auto Scaling publishes) serve
the integration and fault tests; tests/cli has its own `aws`."""

from __future__ import annotations

import os

import boto3
import botocore.session
import pytest
from moto import mock_aws

from fixed_ip_local import moto_patches

# moto parses thousands of public AMIs per region unless told not to; the tests use none.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

REGION = "ap-northeast-1"

# Fails the session when a test writes into the working tree (and keeps hypothesis out of it).
pytest_plugins = ["tests.hygiene"]


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch):
    """Fake credentials and a fixed region; no profile, no endpoint override."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


# One botocore session for the tests' own clients: it caches the parsed service models,
# which take most of a client's creation time.
_BOTOCORE = botocore.session.get_session()


@pytest.fixture
def aws():
    """moto with the fidelity patches; the patches' global knobs reset afterwards."""
    moto_patches.apply()
    with mock_aws():
        yield boto3.Session(region_name=REGION, botocore_session=_BOTOCORE)
    moto_patches.clear_lifecycle_listeners()
    moto_patches.set_auto_register(0.0)
    moto_patches.set_clock(None)


@pytest.fixture
def events(aws):
    """Every lifecycle event Auto Scaling publishes, in order."""
    published: list[dict] = []
    moto_patches.add_lifecycle_listener(published.append)
    return published
