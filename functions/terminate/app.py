"""Terminate function: an Auto Scaling terminate lifecycle action -> the instance's pool
ENI back to the pool, CompleteLifecycleAction CONTINUE, then the address to an instance
waiting for one. Composition root only."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger

from fixed_ip import wiring
from fixed_ip.controller import TerminateController, run_invocation
from fixed_ip.launch import LaunchUseCase
from fixed_ip.observability import PowertoolsObserver
from fixed_ip.terminate import TerminateUseCase

logger = Logger()


@cache
def controller() -> TerminateController:
    settings, deps = wiring.build()
    # The launch path serves the instance waiting longest for the released address.
    use_case = TerminateUseCase(deps, settings, LaunchUseCase(deps, settings))
    return TerminateController(use_case, settings, deps.clock)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: object) -> dict:
    observer = PowertoolsObserver(logger)
    return run_invocation(event, context.get_remaining_time_in_millis(), observer, controller)
