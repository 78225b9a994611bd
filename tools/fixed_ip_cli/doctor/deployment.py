"""`Deployment`: what the checks read, fetched once each: the controller's side
(`ControllerState`) and the group's (`GroupState`). Properties return None for resources
that do not exist; other AWS errors propagate as AwsError."""

from __future__ import annotations

from typing import Any

from fixed_ip_cli import awsutil
from fixed_ip_cli.doctor.controller_state import ControllerState
from fixed_ip_cli.doctor.group_state import GroupState
from fixed_ip_cli.doctor.model import Options


class Deployment(ControllerState, GroupState):
    def __init__(self, session: Any, options: Options) -> None:
        self.options = options
        self.session = session
        self.region: str = session.region_name
        self._clients: dict[str, Any] = {}
        # TestEventPattern answers by (rule, transition, hook): True/False, or why
        # EventBridge refused the pattern.
        self.pattern_answers: dict[tuple[str, str, str], bool | str] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = awsutil.client(self.session, service)
        return self._clients[service]
