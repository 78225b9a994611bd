"""The one place where a lifecycle action's result is chosen, and the metrics of the
result. Every path that completes a launch action (the launch function, the sweeper,
a misconfigured hook) goes through `decide()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fixed_ip.errors import FixedIpError, InstanceStepFailure, PoolExhausted

if TYPE_CHECKING:
    from fixed_ip.launch_run import LaunchOutcome
    from fixed_ip.ports import Observer

CONTINUE = "CONTINUE"
ABANDON = "ABANDON"
WAIT = "WAIT"
# The reason of a launch that waits for an address: no result, the action stays open.
WAITING = "waiting_for_address"


def decide(
    failure: FixedIpError | None,
    on_hostname_failure: str,
    *,
    on_exhausted: str = ABANDON,
    waited_seconds: float = 0.0,
    wait_bound_seconds: float = 0.0,
) -> str | None:
    """CONTINUE, ABANDON, or None (wait: no completion at all) for a launch action that
    ended with `failure` (None: none).

    No failure: CONTINUE. The pool exhausted in the AZ under the `WAIT` policy, the
    instance in Pending:Wait for less than the bound: None, it keeps waiting for the
    next address released there; at the bound, ABANDON. Any other failure to get the
    ENI, an invalid host name, a fixed address the instance could not configure or
    verify, or a hook whose configuration cannot be served: ABANDON, always (the
    instance would run without its fixed IP). A failure of the host name alone (the
    address verified, or not at stake): the operator's `OnHostnameFailure` policy
    (default ABANDON)."""
    if failure is None:
        return CONTINUE
    if isinstance(failure, PoolExhausted) and on_exhausted == WAIT:
        return None if waited_seconds < wait_bound_seconds else ABANDON
    if (
        isinstance(failure, InstanceStepFailure)
        and failure.only_host_name
        and on_hostname_failure == CONTINUE
    ):
        return CONTINUE
    return ABANDON


def outcome_metrics(observer: Observer, out: LaunchOutcome) -> None:
    """The metrics of a launch's end, whoever ran it (launch function or sweeper)."""
    if out.reason == "invalid_metadata":
        observer.metric("InvalidEvents")
    if out.result == CONTINUE:
        observer.metric("Continues")
    elif out.result == ABANDON:
        observer.metric("Abandons")
    if out.reason in ("pool_exhausted", WAITING):
        observer.metric("PoolExhausted")
    if not out.completed and out.reason != WAITING:
        observer.metric("ActionsNotActive")
