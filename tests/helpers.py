"""Shared test helpers: the repository's own event files, log capture, and running a
process or a local server the way the slow tests do."""

from __future__ import annotations

import io
import itertools
import json
import logging
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

from fixed_ip_local.events import LAUNCHING, lifecycle_event

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
# The time stamp of the events/ files (2026-11-26T06:00:00Z).
FILE_EVENT_TIME = 1795672800.0


# An Auto Scaling lifecycle action event's keys as AWS documents them, in AWS's order
# (the simulated events and the property tests' mutations both follow it).
TOP_KEYS = ["version", "id", "detail-type", "source", "account", "time", "region", "resources"]
DETAIL_KEYS = [
    "LifecycleActionToken",
    "AutoScalingGroupName",
    "LifecycleHookName",
    "EC2InstanceId",
    "LifecycleTransition",
    "NotificationMetadata",
    "Origin",
    "Destination",
]


def load_event(name: str) -> Any:
    """An event from events/ (the files `sam local invoke -e` uses)."""
    return json.loads((EVENTS / name).read_text())


def invalid_event_names() -> list[str]:
    return sorted(p.name for p in (EVENTS / "invalid").glob("*.json"))


def launch_event(instance_id: str, group: str, token: str, **detail: Any) -> dict[str, Any]:
    """events/launch.json addressed to a real (moto) instance and token (both come from
    fixed_ip_local.events.lifecycle_event; tests/unit/test_events.py keeps them equal)."""
    event = lifecycle_event(
        LAUNCHING,
        instance_id=instance_id,
        group=group,
        hook="fixed-ip-launch",
        token=token,
        at=FILE_EVENT_TIME,
    )
    event["detail"].update(detail)
    return event


_capture_ids = itertools.count(1)


class LogCapture:
    """A Powertools Logger writing JSON lines into memory. Powertools attaches handlers
    once per logger name, so every capture gets a logger name of its own."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        self.logger = Logger(
            service=f"fixed-ip-test-{next(_capture_ids)}", logger_handler=handler, level="DEBUG"
        )

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def decisions(self, what: str | None = None) -> list[dict[str, Any]]:
        return [line for line in self.lines() if what is None or line.get("decision") == what]


def free_port() -> int:
    """A loopback port nobody listens on now (for a local server of a test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_captured(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a fixed argument list (never a shell string) and capture its text output; the
    caller asserts on the exit code, so a failure shows what the process printed."""
    return subprocess.run(  # noqa: S603 - fixed argument lists from the tests, no shell
        list(argv), capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False
    )
