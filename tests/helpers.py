"""Shared test helpers: the repository's own event files and log capture."""

from __future__ import annotations

import copy
import io
import itertools
import json
import logging
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def load_event(name: str) -> Any:
    """An event from events/ (the files `sam local invoke -e` uses)."""
    return json.loads((EVENTS / name).read_text())


def invalid_event_names() -> list[str]:
    return sorted(p.name for p in (EVENTS / "invalid").glob("*.json"))


def launch_event(instance_id: str, group: str, token: str, **detail: Any) -> dict[str, Any]:
    """events/launch.json addressed to a real (moto) instance and token."""
    event = copy.deepcopy(load_event("launch.json"))
    event["detail"].update(
        EC2InstanceId=instance_id, AutoScalingGroupName=group, LifecycleActionToken=token
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
