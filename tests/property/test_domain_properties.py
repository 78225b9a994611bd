"""Properties of the pure parts the controller's safety rests on: the spread of
concurrent claims, host-name validation against the SSM document's own pattern, and the
input boundary (any JSON value is either a launch request or an InvalidEvent)."""

from __future__ import annotations

import copy
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from fixed_ip.claim import spread_order
from fixed_ip.errors import (
    AgentNotOnline,
    BadHostNameTag,
    CommandFailed,
    CommandTimedOut,
    HostnameFailed,
    InstanceGone,
    InstanceStepFailure,
    InvalidEvent,
    InvalidHostName,
    OsAddressFailed,
    PoolExhausted,
)
from fixed_ip.hostname import validate_hostname
from fixed_ip.inputs import launch_request
from fixed_ip.launch import ABANDON, CONTINUE, decide
from fixed_ip.models import PoolEni, parse_lifecycle_event
from fixed_ip.settings import Settings
from fixed_ip_local.lambda_runner import load_template
from tests.helpers import DETAIL_KEYS, TOP_KEYS, load_event

SETTINGS = Settings(document="doc")
DOCUMENT_PATTERN = re.compile(
    load_template()["Resources"]["ConfigureDocument"]["Properties"]["Content"]["parameters"][
        "HostName"
    ]["allowedPattern"]
)


def _address_like(value: str) -> bool:
    """What the document's pattern refuses beyond RFC 1123: names resolvers take as an
    address (an all-numeric last label; 1 to 4 labels each a decimal or 0x-hex number, the
    syntax of inet_aton, whatever the value) and localhost."""
    labels = value.split(".")
    number = re.compile(r"0[xX][0-9A-Fa-f]*|[0-9]+")
    return (
        re.fullmatch(r"[0-9]+", labels[-1]) is not None
        or (len(labels) <= 4 and all(number.fullmatch(label) for label in labels))
        or value.lower() == "localhost"
    )


instance_ids = st.integers(0, 2**40).map(lambda n: f"i-{n:017x}")


def eni(n: int) -> PoolEni:
    return PoolEni(
        eni_id=f"eni-{n:017x}",
        ip=f"10.0.{n // 250}.{n % 250 + 4}",
        az="ap-northeast-1a",
        subnet_id="subnet-1",
        vpc_id="vpc-1",
        status="available",
        host_name=f"server-{n}",
    )


@given(
    waiting=st.lists(instance_ids, min_size=1, max_size=40, unique=True),
    spare=st.integers(0, 10),
    data=st.data(),
)
def test_concurrent_claims_aim_at_distinct_enis(waiting, spare, data):
    """Everyone who sees the same waiting list and free ENIs aims first at a different
    ENI (so a burst does not collide), and each tries every free ENI exactly once."""
    free = [eni(n) for n in data.draw(st.permutations(range(len(waiting) + spare)))]
    firsts = []
    for me in waiting:
        order = spread_order(me, [i for i in waiting if i != me], free)
        assert sorted(e.eni_id for e in order) == sorted(e.eni_id for e in free)
        firsts.append(order[0].eni_id)
    assert len(set(firsts)) == len(waiting)


@given(st.text(max_size=80) | st.from_regex(DOCUMENT_PATTERN, fullmatch=True))
def test_host_name_validation_agrees_with_the_ssm_document(value):
    """The controller validates before the SSM document does; they must agree, or a name
    the controller accepts would fail on the instance (or a refused one would pass)."""
    try:
        validate_hostname(value)
        accepted = True
    except InvalidHostName:
        accepted = False
    if value == "":
        # The document's "no host name" (its default); the controller sends no empty name.
        assert DOCUMENT_PATTERN.fullmatch(value) and not accepted
        return
    # The controller may refuse addresses in disguise by a fuller check (inet_aton); it
    # accepts nothing the document refuses, and the document nothing the controller refuses.
    assert (accepted and not _address_like(value)) == bool(DOCUMENT_PATTERN.fullmatch(value))
    if accepted:
        assert not set(value) & set(";|&$`'\"\\<>(){}[]*?! \t\n\r")


FAILURES = st.sampled_from(
    [
        None,
        PoolExhausted("x"),
        InstanceGone("x"),
        BadHostNameTag("x"),
        AgentNotOnline("x"),
        CommandFailed("x"),
        CommandTimedOut("x"),
        OsAddressFailed("x"),
        HostnameFailed("x"),
        CommandFailed("x", only_host_name=True),
        AgentNotOnline("x", only_host_name=True),
    ]
)


@given(FAILURES, st.sampled_from([ABANDON, CONTINUE]))
def test_only_host_name_step_failures_follow_the_policy(failure, policy):
    result = decide(failure, policy)
    if failure is None:
        assert result == CONTINUE
    elif isinstance(failure, InstanceStepFailure) and failure.only_host_name:
        assert result == policy
    else:
        assert result == ABANDON  # never InService without the fixed IP


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_events(draw):
    """The documented launch event with some fields removed or replaced by any JSON."""
    event = copy.deepcopy(load_event("launch.json"))
    for key in draw(st.lists(st.sampled_from([*TOP_KEYS, "detail"]), max_size=3)):
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(json_values)
    if isinstance(event.get("detail"), dict):
        for key in draw(st.lists(st.sampled_from(DETAIL_KEYS), max_size=3)):
            if draw(st.booleans()):
                event["detail"].pop(key, None)
            else:
                event["detail"][key] = draw(json_values | st.text())
    return event


@given(json_values | mutated_events())
def test_any_input_is_a_launch_request_or_a_clear_refusal(value):
    """No input makes the boundary fail with anything but InvalidEvent (which the
    controller turns into one log line and no AWS call), and no refusal echoes the
    action token."""
    try:
        req = launch_request(parse_lifecycle_event(value), SETTINGS)
    except InvalidEvent as exc:
        assert str(exc)
        token = value.get("detail", {}) if isinstance(value, dict) else {}
        secret = token.get("LifecycleActionToken") if isinstance(token, dict) else None
        if isinstance(secret, str) and len(secret) >= 8:
            assert secret not in str(exc)
        return
    assert re.fullmatch(r"i-[0-9a-f]{8,17}", req.instance_id)
    assert req.hook.startswith(SETTINGS.hook_prefix)
    assert 1 <= req.device_index <= 31
    json.dumps(req.model_dump(mode="json"))  # serializable for the log line
