"""Terminate function: an Auto Scaling terminate lifecycle action -> the instance's pool
ENI back to the pool, then CompleteLifecycleAction CONTINUE. Composition root only."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger

from fixed_ip import wiring
from fixed_ip.controller import TerminateController, run_invocation
from fixed_ip.observability import PowertoolsObserver
from fixed_ip.terminate import TerminateUseCase

logger = Logger()


@cache
def controller() -> TerminateController:
    settings, deps = wiring.build(commands=False)
    return TerminateController(TerminateUseCase(deps, settings), settings, deps.clock)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: object) -> dict:
    observer = PowertoolsObserver(logger)
    return run_invocation(event, context.get_remaining_time_in_millis(), observer, controller)
