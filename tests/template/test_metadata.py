"""template.yaml's metadata and idioms: every parameter presented in a ParameterGroup, the
Serverless Application Repository metadata `sam publish` needs (with the files it names),
tracing as the template and the code both have it, descriptions that say what the template
does."""

from __future__ import annotations

import ast
import re
import tomllib
from typing import Any

import pytest

from fixed_ip_local.lambda_runner import load_template
from tests.helpers import ROOT

TEMPLATE = load_template()
SAR = TEMPLATE["Metadata"].get("AWS::ServerlessRepo::Application", {})


def test_every_parameter_is_in_exactly_one_parameter_group() -> None:
    groups = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    parameters = set(TEMPLATE["Parameters"])
    missing = sorted(parameters - set(grouped))
    assert not missing, (
        f"parameters in no ParameterGroup of template.yaml's Metadata: {missing}: add each to "
        "a group of AWS::CloudFormation::Interface (sam deploy --guided and the console "
        "present parameters by group)"
    )
    assert not sorted(set(grouped) - parameters), "a ParameterGroup names an unknown parameter"
    twice = sorted({n for n in grouped if grouped.count(n) > 1})
    assert not twice, f"parameters in more than one group: {twice}"


def test_serverless_repo_metadata_is_publishable() -> None:
    """The fields and limits of AWS::ServerlessRepo::Application (sam publish refuses
    others); the files it names exist; the version is the project's."""
    required = {"Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl"}
    assert required <= set(SAR), sorted(required - set(SAR))
    assert 1 <= len(SAR["Name"]) <= 140
    assert 1 <= len(SAR["Description"]) <= 256
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]", SAR["Author"])
    assert len(SAR["Author"]) <= 127
    labels = SAR["Labels"]
    assert 1 <= len(labels) <= 10
    assert all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label) for label in labels)
    for key in ("LicenseUrl", "ReadmeUrl"):
        assert (ROOT / SAR[key]).is_file(), f"{key} {SAR[key]} does not exist"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert SAR["SemanticVersion"] == project["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", SAR["SemanticVersion"])


def test_the_license_file_is_the_declared_license() -> None:
    assert SAR["SpdxLicenseId"] == "MIT-0"
    text = (ROOT / SAR["LicenseUrl"]).read_text()
    assert text.startswith("MIT No Attribution") and "without restriction" in text


def _imports(path: Any) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_tracing_is_the_runtime_s_own_and_the_code_has_no_tracer() -> None:
    """Tracing: Active records each invocation without any SDK; the deployed code imports
    neither the X-Ray SDK (maintenance mode, cold start) nor the Powertools Tracer over it."""
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"
    deployed = [*(ROOT / "layers").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    assert deployed
    tracers = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in deployed
        for name in _imports(path)
        if name.startswith("aws_xray_sdk") or name.endswith(".Tracer") or "tracing" in name
    }
    assert not tracers, tracers


def test_log_retention_describes_the_log_groups_it_sets() -> None:
    groups = [
        name
        for name, res in TEMPLATE["Resources"].items()
        if res["Type"] == "AWS::Logs::LogGroup"
        and res["Properties"].get("RetentionInDays") == {"Ref": "LogRetentionInDays"}
    ]
    assert len(groups) == 3, groups
    description = TEMPLATE["Parameters"]["LogRetentionInDays"]["Description"]
    assert "three" in description and all(
        word in description for word in ("launch", "terminate", "sweeper")
    )


@pytest.mark.parametrize("name", sorted(TEMPLATE["Parameters"]))
def test_every_parameter_has_a_description(name: str) -> None:
    assert TEMPLATE["Parameters"][name].get("Description", "").strip()
