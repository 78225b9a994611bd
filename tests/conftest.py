"""Fixtures for every test: no test may reach a real AWS account."""

from __future__ import annotations

import os

import pytest

# moto parses thousands of public AMIs per region unless told not to; the tests use none.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

REGION = "ap-northeast-1"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch):
    """Fake credentials and a fixed region; no profile, no endpoint override."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
