"""Sweeper function, on a schedule: lost launch events, leaked ENIs, instances without
their ENI, and pool capacity per AZ. Composition root only (`fixed_ip.sweeper`)."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger

from fixed_ip import wiring
from fixed_ip.controller import SweeperController, run_invocation
from fixed_ip.launch import LaunchUseCase
from fixed_ip.observability import PowertoolsObserver
from fixed_ip.sweeper import SweeperUseCase

logger = Logger()


@cache
def controller() -> SweeperController:
    settings, deps = wiring.build()
    sweeper = SweeperUseCase(deps, settings, LaunchUseCase(deps, settings))
    return SweeperController(sweeper, settings, deps.clock)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: object) -> dict:
    observer = PowertoolsObserver(logger)
    return run_invocation(event, context.get_remaining_time_in_millis(), observer, controller)
