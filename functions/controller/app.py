"""Launch function: an Auto Scaling launch lifecycle action -> fixed-IP ENI, host name,
CompleteLifecycleAction. The composition root only: the work is in the layer
(`fixed_ip.controller`, `fixed_ip.launch`)."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger

from fixed_ip import wiring
from fixed_ip.controller import LaunchController, run_invocation
from fixed_ip.launch import LaunchUseCase
from fixed_ip.observability import PowertoolsObserver

logger = Logger()


@cache
def controller() -> LaunchController:
    """Built on first use, once per container (not at import: a bad configuration is
    then reported by the invocation that meets it)."""
    settings, deps = wiring.build()
    return LaunchController(LaunchUseCase(deps, settings), settings, deps.clock)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: object) -> dict:
    observer = PowertoolsObserver(logger)
    return run_invocation(event, context.get_remaining_time_in_millis(), observer, controller)
