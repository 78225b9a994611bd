"""Composition shared by the functions' entry points: settings from the environment and
the AWS adapters on one boto3 session, built once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping

import boto3
from botocore.config import Config

from fixed_ip.adapters.autoscaling import AutoScalingLifecycle
from fixed_ip.adapters.ec2 import Ec2Compute
from fixed_ip.adapters.ssm import SsmRunCommand
from fixed_ip.launch import Deps
from fixed_ip.observability import SystemClock
from fixed_ip.settings import Settings

# Adaptive retries: exponential back-off plus client-side rate limiting when EC2
# throttles a burst of launches (Describe* 20/s, Attach 5/s refill per account).
AWS_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="fixed-ip/0.1",
)


def build(environ: Mapping[str, str] | None = None) -> tuple[Settings, Deps]:
    """Settings (ConfigurationError names a bad variable) and the adapters."""
    settings = Settings.from_env(os.environ if environ is None else environ)
    session = boto3.session.Session()
    deps = Deps(
        compute=Ec2Compute(
            session.client("ec2", config=AWS_CONFIG), hostname_tag_key=settings.hostname_tag_key
        ),
        lifecycle=AutoScalingLifecycle(session.client("autoscaling", config=AWS_CONFIG)),
        commands=SsmRunCommand(
            session.client("ssm", config=AWS_CONFIG), document=settings.document
        ),
        clock=SystemClock(),
    )
    return settings, deps
