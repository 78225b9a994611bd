"""`fixed-ip doctor --group NAME`: check a deployment end to end, read-only.

Each check is a small function of a `Deployment` (AWS state read lazily and cached) that
returns one `Check`: pass / warn / fail / skip, a message, and for anything not passing
the fix. What the checks cover, in order:

    stack          the controller stack exists and is usable (its outputs name the rest)
    function       the launch (and terminate) functions exist and are active; timeouts
    document       the controller's SSM document exists
    group          the Auto Scaling group exists
    launch-hook    a launch hook with the opt-in name prefix, DefaultResult ABANDON,
                   heartbeat timeout above the function timeout, valid metadata
    terminate-hook a terminate hook with the prefix, routed to the terminate function
    rule           an enabled rule on the default bus matches this group's launch events
                   (EventBridge's TestEventPattern says so) and targets the launch function
    permission     each function's resource policy lets its rule invoke it
    sweeper        the sweeper function exists and an enabled schedule runs it, more often
                   than the launch hook's heartbeat timeout when instances wait (policy WAIT)
    wait-bound     WaitForAddressSeconds below Auto Scaling's limit for a lifecycle action
                   (48 h or 100 x the launch hook's heartbeat timeout)
    pool-coverage  every AZ of the group has ENIs of the pool
    pool-capacity  enough usable ENIs per AZ for the group's max size plus the headroom
                   replacements take (the sweeper's PoolShortfall uses the same figure)
    refresh        before an instance refresh: the pool carries its replacements at the
                   refresh's MaxHealthyPercentage (launch-first needs headroom)
    instances      instances of the group without a pool ENI (started before the hook)
    held-outside   pool ENIs kept by instances in no Auto Scaling group (detached)

Modules: model (Check, Options), controller_state / group_state / deployment (discovery),
patterns (TestEventPattern), and the checks by subject: controller_checks, hook_checks,
event_checks, pool_checks, group_life_checks (refresh, held-outside), wait_checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fixed_ip_cli.doctor.controller_checks import check_document, check_function, check_stack
from fixed_ip_cli.doctor.deployment import Deployment
from fixed_ip_cli.doctor.event_checks import check_permission, check_rule
from fixed_ip_cli.doctor.group_life_checks import check_held_outside, check_refresh
from fixed_ip_cli.doctor.hook_checks import check_group, check_launch_hook, check_terminate_hook
from fixed_ip_cli.doctor.model import FAIL, PASS, SKIP, WARN, Check, Options
from fixed_ip_cli.doctor.pool_checks import (
    check_instances,
    check_pool_capacity,
    check_pool_coverage,
)
from fixed_ip_cli.doctor.wait_checks import check_sweeper, check_wait_bound
from fixed_ip_cli.errors import AwsError

__all__ = ["CHECKS", "FAIL", "PASS", "SKIP", "WARN", "Check", "Deployment", "Options", "run_checks"]

CHECKS: list[Callable[[Deployment], Check]] = [
    check_stack,
    check_function,
    check_document,
    check_group,
    check_launch_hook,
    check_terminate_hook,
    check_rule,
    check_permission,
    check_sweeper,
    check_wait_bound,
    check_pool_coverage,
    check_pool_capacity,
    check_refresh,
    check_instances,
    check_held_outside,
]


def run_checks(session: Any, options: Options) -> list[Check]:
    """Every check in order. Credentials, region and connection problems abort (AwsError,
    exit 3) at the first call; an AWS error inside one check makes that check fail."""
    deployment = Deployment(session, options)
    _ = deployment.group  # preflight: fails fast without credentials or region
    results = []
    for check in CHECKS:
        check_id = check.__name__.removeprefix("check_").replace("_", "-")
        try:
            results.append(check(deployment))
        except AwsError as exc:
            results.append(Check(check_id, FAIL, f"could not check: {exc.message}"))
    return results
