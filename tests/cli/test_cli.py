"""The `fixed-ip` command line itself: help, exit codes, one-line errors without AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixed_ip_cli.errors import EXIT_AWS, EXIT_OK, EXIT_USAGE
from tests.cli.conftest import Run
from tests.cli.test_spec import SEED_SPEC


def test_help_lists_every_command_and_the_exit_codes(run: Run) -> None:
    result = run("--help")
    assert result.code == EXIT_OK
    for command in ("pool", "doctor", "invoke", "demo", "local-aws"):
        assert f"    {command}" in result.out
    assert "exit codes:" in result.out
    assert "3  AWS error" in result.out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pool", "apply", "--help"], "Plan actions:"),
        (["pool", "status", "--help"], "totals free / in use per AZ"),
        (["doctor", "--help"], "--max-healthy-percent P"),
        # the development commands are still there
        (["invoke", "--help"], "--parameter-overrides"),
        (["demo", "--help"], "--per-az"),
        (["local-aws", "--help"], "--pending"),
    ],
)
def test_subcommand_help(run: Run, argv: list[str], expected: str) -> None:
    result = run(*argv)
    assert result.code == EXIT_OK
    assert expected in result.out
    if argv[0] in {"pool", "doctor"}:
        assert "--region REGION" in result.out and "--profile PROFILE" in result.out
        assert "exit codes:" in result.out


@pytest.mark.parametrize(
    "argv",
    [
        ["doctor"],  # --group is required
        ["pool"],
        ["pool", "apply"],
        ["pool", "apply", "x.yaml", "--dry-run", "--check"],
        ["doctor", "--group", "g", "--max-healthy-percent", "90"],
    ],
)
def test_usage_errors_exit_2(run: Run, argv: list[str]) -> None:
    assert run(*argv).code == EXIT_USAGE


def test_a_missing_spec_file(run: Run, tmp_path: Path) -> None:
    result = run("pool", "apply", str(tmp_path / "nope.yaml"))
    assert result.code == EXIT_USAGE
    assert result.err.startswith("error: cannot read pool spec ")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, real_clients: None) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["pool", "status"],
        ["pool", "apply", str(SEED_SPEC), "--dry-run"],
        ["doctor", "--group", "web"],
    ],
)
def test_no_credentials_is_one_line_and_exit_3(run: Run, no_credentials: None, argv) -> None:
    result = run(*argv)
    assert result.code == EXIT_AWS
    (line,) = [x for x in result.err.splitlines() if x.startswith("error:")]
    assert "no AWS credentials: pass --profile NAME, run `aws configure`" in line
    assert "Traceback" not in result.err


def test_no_region(run: Run, no_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = run("pool", "status")
    assert result.code == EXIT_AWS
    assert "no AWS region: pass --region REGION or set AWS_REGION" in result.err


def test_an_unknown_profile(run: Run, no_credentials: None) -> None:
    result = run("pool", "status", "--profile", "nope")
    assert result.code == EXIT_USAGE
    assert result.err.strip() == (
        "error: AWS profile 'nope' not found: check --profile / AWS_PROFILE against "
        "`aws configure list-profiles`"
    )


def test_region_option_is_used(run: Run, aws) -> None:
    result = run("pool", "status", "--region", "eu-west-1")
    assert result.code == EXIT_OK
    assert "in eu-west-1" in result.out


def test_aws_region_alone_is_enough(run: Run, aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore reads only AWS_DEFAULT_REGION; the CLI also takes AWS_REGION, as the AWS CLI
    v2 does."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = run("pool", "status")
    assert result.code == EXIT_OK
    assert "in eu-west-1" in result.out
