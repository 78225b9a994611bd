"""Issue 11 (hardening) on template.yaml: the SSM document refuses what the validator
refuses (item 6), the managed-group pattern reaches the code (item 2), the alarms on
duplicate host names and instances without their ENI (item 7), and IAM conditioned on
the pools the stack serves (item 9)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.template.test_template import TEMPLATE
from tests.unit.test_hardening import ADDRESS_SHAPED, LOOPBACK_NAMES, VALID_NAMES


def _sam() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text(encoding="utf-8"))


def _host_name_patterns() -> dict[str, re.Pattern[str]]:
    """The HostName allowedPattern of every SSM document of the stack, whatever the
    document resource is called."""
    found = {}
    for logical_id, resource in _sam()["Resources"].items():
        if resource["Type"] != "AWS::SSM::Document":
            continue
        params = resource["Properties"]["Content"].get("parameters", {})
        if "HostName" in params:
            found[logical_id] = re.compile(params["HostName"]["allowedPattern"])
    assert found, "no AWS::SSM::Document with a HostName parameter"
    return found


@pytest.mark.parametrize("name", ADDRESS_SHAPED + LOOPBACK_NAMES)
def test_item6_document_refuses_address_shaped_host_names(name):
    """As far as a pattern can: the same examples the validator refuses (this test fails
    until the document's new allowedPattern, another branch's, is merged)."""
    for logical_id, pattern in _host_name_patterns().items():
        assert not pattern.fullmatch(name), f"{logical_id} accepts {name!r}"


@pytest.mark.parametrize("name", VALID_NAMES)
def test_item6_document_accepts_valid_host_names(name):
    for logical_id, pattern in _host_name_patterns().items():
        assert pattern.fullmatch(name), f"{logical_id} refuses {name!r}"
