"""Controller Lambda: an Auto Scaling launch lifecycle action -> fixed-IP ENI, host
name, CompleteLifecycleAction. This module is the composition root only: the work is
in the layer (`fixed_ip.controller`, `fixed_ip.launch`)."""

from __future__ import annotations

import os
from functools import cache

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

from fixed_ip.adapters.autoscaling import AutoScalingLifecycle
from fixed_ip.adapters.ec2 import Ec2Compute
from fixed_ip.adapters.ssm import SsmRunCommand
from fixed_ip.controller import LaunchController, run_invocation
from fixed_ip.launch import Deps, LaunchUseCase
from fixed_ip.observability import PowertoolsObserver, SystemClock
from fixed_ip.settings import Settings

logger = Logger()

# Adaptive retries: exponential back-off plus client-side rate limiting when EC2
# throttles a burst of launches (Describe* 20/s, Attach 5/s refill per account).
AWS_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="fixed-ip/0.1",
)


@cache
def controller() -> LaunchController:
    """Built on first use, once per container (not at import: a bad configuration is
    then reported by the invocation that meets it)."""
    settings = Settings.from_env(os.environ)
    session = boto3.session.Session()
    clock = SystemClock()
    deps = Deps(
        compute=Ec2Compute(
            session.client("ec2", config=AWS_CONFIG), hostname_tag_key=settings.hostname_tag_key
        ),
        lifecycle=AutoScalingLifecycle(session.client("autoscaling", config=AWS_CONFIG)),
        commands=SsmRunCommand(
            session.client("ssm", config=AWS_CONFIG), document=settings.hostname_document
        ),
        clock=clock,
    )
    return LaunchController(LaunchUseCase(deps, settings), settings, clock)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: object) -> dict:
    observer = PowertoolsObserver(logger)
    return run_invocation(event, context.get_remaining_time_in_millis(), observer, controller)
