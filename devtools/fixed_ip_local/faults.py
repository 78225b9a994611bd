"""Fault injection for the local simulated AWS: answer chosen AWS operations with errors
(throttling, conflicts, anything with an error code) or run a side effect just before
the request reaches moto (a competing attach, a termination, a deletion, a "killed"
Lambda sandbox). A development and test tool, not deployed, and deliberately kept out of
`moto_patches` (which only adds AWS fidelity).

How: faults are injected at the HTTP layer, in botocore's `before-send` event, which is
where moto's own stubber answers requests. An injected error is a real HTTP error
response in the service's wire protocol (EC2 XML, query XML, JSON), so botocore parses
it into a `ClientError` and its real retry logic (standard or adaptive mode, max
attempts, backoff, retry quota) runs exactly as against AWS. Every botocore client of the
process is affected while a plan is active, including the ones the controller builds
once per container (in-process moto, `mock_aws`; requests to a moto server over HTTP
are not seen).

    with faults.inject() as plan, faults.fast_retries():
        plan.throttle("ec2:AttachNetworkInterface", times=3)
        plan.before("ec2:CreateTags", faults.kill)          # sandbox dies after attach
        runner.invoke(event)

Operations are named `service:Operation` as in `metering` (`ec2`, `autoscaling`, `ssm`).
Side effects run with fault injection switched off for their own thread, so they can call
boto3 themselves (`quiet()` does the same for any code). Each request meets at most one
rule, the first that wants it; a rule fires `times` times (None: every time), optionally
only for requests whose wire parameters satisfy `when` (a pure predicate: it runs under
the plan's lock).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse
from botocore.retries import bucket, standard
from moto.core.botocore_stubber import BotocoreStubber

__all__ = [
    "THROTTLING",
    "Call",
    "FaultPlan",
    "Killed",
    "Rule",
    "fast_retries",
    "inject",
    "kill",
    "quiet",
]

# What each service answers when it throttles (EC2 API reference "Request throttling":
# RequestLimitExceeded, HTTP 503; Auto Scaling: Throttling "Rate exceeded"; SSM:
# ThrottlingException). botocore classifies all three as throttling errors.
THROTTLING: dict[str, tuple[str, str, int]] = {
    "ec2": ("RequestLimitExceeded", "Request limit exceeded.", 503),
    "autoscaling": ("Throttling", "Rate exceeded", 400),
    "ssm": ("ThrottlingException", "Rate exceeded", 400),
}

# botocore event names carry the hyphenized service id; the plan uses endpoint prefixes.
_SERVICE_NAMES = {"auto-scaling": "autoscaling"}
_PROTOCOLS = {"ec2": "ec2", "autoscaling": "query", "ssm": "json"}


class Killed(BaseException):
    """The Lambda sandbox stopped at this point (timeout, out of memory, crash): nothing
    after it runs, not even the controller's own error handling. A BaseException, so that
    neither the controller's `except Exception` nor botocore's send loop catches it."""


@dataclass(frozen=True)
class Call:
    """One request about to be sent: its operation and its wire parameters (query
    protocols flattened as sent, e.g. `InstanceId.1`; JSON protocols as the body)."""

    service: str
    operation: str
    params: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


def kill(call: Call) -> None:
    """A `before` action: the sandbox dies just before sending `call`."""
    raise Killed(f"sandbox stopped before {call.name}")


@dataclass
class Rule:
    operation: str
    times: int | None = 1
    error: tuple[str, str, int] | None = None  # (code, message, HTTP status)
    action: Callable[[Call], None] | None = None
    when: Callable[[Call], bool] | None = None
    hits: int = 0

    def wants(self, call: Call) -> bool:
        if self.operation not in (call.name, f"{call.service}:*", "*"):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return self.when is None or bool(self.when(call))


@dataclass
class FaultPlan:
    rules: list[Rule] = field(default_factory=list)
    #: (operation, "error:<code>" | "before") for every fault that fired, in order.
    fired: list[tuple[str, str]] = field(default_factory=list)
    #: every request seen while the plan was active (faulted or not), in order.
    seen: list[Call] = field(default_factory=list)
    #: botocore's backoff delays, when the caller records them (see `fast_retries`).
    delays: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(
        self,
        operation: str,
        code: str,
        message: str = "",
        *,
        status: int = 400,
        times: int | None = 1,
        when: Callable[[Call], bool] | None = None,
        action: Callable[[Call], None] | None = None,
    ) -> Rule:
        """Answer `operation` with the error `code` (HTTP `status`). With `action`, run it
        first against the (simulated) AWS: the request took effect but its answer was
        lost, as after a timeout or a 5xx."""
        rule = Rule(
            operation, times, error=(code, message or code, status), action=action, when=when
        )
        with self._lock:
            self.rules.append(rule)
        return rule

    def throttle(
        self, operation: str, *, times: int | None = 1, when: Callable[[Call], bool] | None = None
    ) -> Rule:
        """Answer `operation` with the service's throttling error."""
        service = operation.split(":", 1)[0]
        code, message, status = THROTTLING[service]
        return self.fail(operation, code, message, status=status, times=times, when=when)

    def before(
        self,
        operation: str,
        action: Callable[[Call], None],
        *,
        times: int | None = 1,
        when: Callable[[Call], bool] | None = None,
    ) -> Rule:
        """Run `action(call)` just before `operation` reaches the (simulated) AWS, which
        then answers it as usual, seeing whatever `action` changed."""
        rule = Rule(operation, times, action=action, when=when)
        with self._lock:
            self.rules.append(rule)
        return rule

    def count(self, operation: str | None = None, kind: str | None = None) -> int:
        """How many faults fired (for `operation`, of `kind`: "before" or an error code)."""
        return sum(
            1
            for op, k in self.fired
            if (operation is None or op == operation)
            and (kind is None or k == kind or k == f"error:{kind}")
        )

    def requests(self, operation: str) -> int:
        """How many requests for `operation` were sent (retries included)."""
        return sum(1 for c in self.seen if c.name == operation)

    def _match(self, call: Call) -> Rule | None:
        with self._lock:
            self.seen.append(call)
            for rule in self.rules:
                if rule.wants(call):
                    rule.hits += 1
                    kind = f"error:{rule.error[0]}" if rule.error else "before"
                    self.fired.append((call.name, kind))
                    return rule
        return None


# --- Installation --------------------------------------------------------------------------

_active: list[FaultPlan] = []
_active_lock = threading.Lock()
_tls = threading.local()
_installed = False


def _install() -> None:
    """Wrap moto's botocore stubber (the `before-send` handler every mocked client has):
    active plans answer first. Idempotent; a no-op passthrough while no plan is active."""
    global _installed
    with _active_lock:
        if _installed:
            return
        original = BotocoreStubber.__call__

        def __call__(
            self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any
        ) -> AWSResponse | None:
            if self.enabled and _active and not getattr(_tls, "quiet", False):
                response = _answer(event_name, request)
                if response is not None:
                    return response
            return original(self, event_name, request, **kwargs)

        BotocoreStubber.__call__ = __call__  # type: ignore[method-assign]
        _installed = True


@contextlib.contextmanager
def inject() -> Iterator[FaultPlan]:
    """A fault plan, active for every botocore client of the process while the block runs."""
    _install()
    plan = FaultPlan()
    with _active_lock:
        _active.append(plan)
    try:
        yield plan
    finally:
        with _active_lock:
            _active.remove(plan)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No fault fires for requests this thread sends inside the block."""
    before = getattr(_tls, "quiet", False)
    _tls.quiet = True
    try:
        yield
    finally:
        _tls.quiet = before


def _answer(event_name: str, request: Any) -> AWSResponse | None:
    parts = event_name.split(".")
    if len(parts) < 3:
        return None
    service = _SERVICE_NAMES.get(parts[1], parts[1])
    call = Call(service, parts[2], _params(request.body))
    with _active_lock:
        plans = list(_active)
    for plan in plans:
        rule = plan._match(call)
        if rule is None:
            continue
        if rule.action is not None:
            with quiet():
                rule.action(call)
        if rule.error is not None:
            return _error_response(request.url, service, *rule.error)
        return None
    return None


def _params(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    if not isinstance(body, str):
        return {}
    text = body.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


class _Raw(BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        data = self.read()
        if data:
            yield data


def _error_response(url: str, service: str, code: str, message: str, status: int) -> AWSResponse:
    request_id = str(uuid.uuid4())
    protocol = _PROTOCOLS.get(service, "query")
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "x-amzn-RequestId": request_id,
        }
    elif protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = {"Content-Type": "text/xml;charset=UTF-8"}
    else:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    return AWSResponse(url, status, headers, _Raw(body))


class _BotocoreClock:
    """A continuous clock for botocore's adaptive rate limiter that can run faster than
    real time. It never jumps backwards (a token bucket would then owe time), so clients
    created inside a `fast_retries` block keep working after it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._real = time.time()
        self._virtual = self._real
        self.speed = 1.0

    def now(self) -> float:
        with self._lock:
            return self._virtual + (time.time() - self._real) * self.speed

    def set_speed(self, speed: float) -> None:
        with self._lock:
            real = time.time()
            self._virtual += (real - self._real) * self.speed
            self._real = real
            self.speed = speed


_clock = _BotocoreClock()
_clock_lock = threading.Lock()
_clock_installed = False


def _install_clock() -> None:
    global _clock_installed
    with _clock_lock:
        if _clock_installed:
            return
        original_sleep_amount = bucket.TokenBucket._sleep_amount

        def current_time(self: bucket.Clock) -> float:
            return _clock.now()

        def _sleep_amount(self: bucket.TokenBucket, amount: int) -> float:
            # The bucket waits on a condition variable in real seconds.
            return original_sleep_amount(self, amount) / _clock.speed

        bucket.Clock.current_time = current_time  # type: ignore[method-assign]
        bucket.TokenBucket._sleep_amount = _sleep_amount  # type: ignore[method-assign]
        _clock_installed = True


@contextlib.contextmanager
def fast_retries(scale: float = 0.01) -> Iterator[list[float]]:
    """Shrink botocore's waits by `scale` while the block runs: the retry backoff and the
    adaptive mode's client-side rate limiting (its clock runs 1/scale times faster). For
    tests only: whether to retry, the attempt limit, the retry quota, the exponential
    growth and when the rate limiter engages all stay botocore's own. Yields the list of
    the unscaled backoff delays botocore chose, in order."""
    _install_clock()
    chosen: list[float] = []
    original = standard.ExponentialBackoff.delay_amount

    def delay_amount(self: standard.ExponentialBackoff, context: Any) -> float:
        delay = original(self, context)
        chosen.append(delay)
        return delay * scale

    standard.ExponentialBackoff.delay_amount = delay_amount  # type: ignore[method-assign]
    _clock.set_speed(1 / scale)
    try:
        yield chosen
    finally:
        _clock.set_speed(1.0)
        standard.ExponentialBackoff.delay_amount = original  # type: ignore[method-assign]
