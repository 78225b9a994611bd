"""Command-line conventions: global options anywhere, --version, JSON errors, exit codes,
a closed pipe, progress on stderr, tables, and an operator install without the
development packages. Process-level behaviour runs `fixed-ip` as a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from fixed_ip_cli.errors import (
    EXIT_AWS,
    EXIT_CLOSED_PIPE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)
from fixed_ip_cli.render import Progress, table
from tests.cli.conftest import Run
from tests.helpers import ROOT, free_port

# ------------------------------------------------------------------- in-process conventions


@pytest.mark.parametrize(
    "argv",
    [
        ["--region", "eu-west-1", "pool", "status"],
        ["pool", "--region", "eu-west-1", "status"],
        ["pool", "status", "--region", "eu-west-1"],
        ["--region", "us-east-1", "pool", "status", "--region", "eu-west-1"],  # the last wins
    ],
)
def test_global_options_go_before_or_after_the_command(run: Run, aws, argv: list[str]) -> None:
    result = run(*argv)
    assert result.code == EXIT_OK, result.err
    assert "in eu-west-1" in result.out


def test_output_json_before_the_command(run: Run, aws) -> None:
    result = run("-o", "json", "--region", "eu-west-1", "pool", "status")
    assert result.code == EXIT_OK, result.err
    assert json.loads(result.out) == {"pools": [], "others": []}


def test_version(run: Run) -> None:
    result = run("--version")
    assert result.code == EXIT_OK
    assert result.out.strip() == f"fixed-ip {metadata.version('fixed-ip')}"


def test_a_usage_error_as_json(run: Run) -> None:
    result = run("--output", "json", "pool", "apply", "x.yaml", "--dry-run", "--check")
    assert result.code == EXIT_USAGE
    error = json.loads(result.out)["error"]
    assert error["type"] == "UsageError" and error["exit_code"] == EXIT_USAGE
    assert "not allowed with argument --dry-run" in error["message"]
    assert result.err == ""


def test_a_usage_error_as_text_shows_the_usage(run: Run) -> None:
    result = run("pool", "status", "--output", "xml")
    assert result.code == EXIT_USAGE
    lines = result.err.splitlines()
    assert lines[0].startswith("usage: fixed-ip pool status")
    assert lines[-1] == (
        "error: argument --output/-o: invalid choice: 'xml' (choose from 'text', 'json')"
    )


def test_an_invalid_spec_as_json_lists_every_problem(run: Run, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("pool: web\nsubnets:\n  - subnet: a\n    addresses: [{ip: 300.0.0.1}]\n")
    result = run("pool", "apply", str(spec), "-o", "json")
    assert result.code == EXIT_USAGE
    error = json.loads(result.out)["error"]
    assert error["type"] == "SpecError"
    assert error["problems"] == [
        "subnets[0].addresses[0].ip: '300.0.0.1' is not an IPv4 address",
        "subnets[0].addresses[0].host_name: None must be a string (quote it if it looks like "
        "a number)",
    ]


def test_an_aws_error_as_json(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    result = run("doctor", "--group", "web", "--output=json")
    assert result.code == EXIT_AWS
    error = json.loads(result.out)["error"]
    assert "no AWS region: pass --region REGION" in error["message"]


# ------------------------------------------------------------------------------ progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run_steps(progress: Progress) -> None:
    with progress.steps(3, "pool web") as advance:
        for n in range(1, 4):
            advance(f"[{n}/3] create 10.0.0.{n}")


def test_progress_is_a_bar_on_a_terminal() -> None:
    stream = Terminal()
    _run_steps(Progress(stream))
    shown = stream.getvalue()
    assert "pool web" in shown and "3/3" in shown
    assert "━" in shown  # the bar itself
    assert "[1/3] create" not in shown


def test_progress_is_one_line_per_step_elsewhere() -> None:
    stream = io.StringIO()
    _run_steps(Progress(stream))
    assert stream.getvalue().splitlines() == [f"[{n}/3] create 10.0.0.{n}" for n in (1, 2, 3)]


def test_no_progress_when_quiet() -> None:
    stream = Terminal()
    _run_steps(Progress(stream, enabled=False))
    assert stream.getvalue() == ""


# -------------------------------------------------------------------------------- tables


def test_tables_align_columns_and_never_wrap() -> None:
    long = "x" * 300  # wider than any terminal: one line still
    rendered = table(
        ("IP", "HOST NAME", "DETAIL"), [("10.0.0.4", None, long), ("10.0.0.10", "a", "")]
    )
    assert rendered.splitlines() == [
        "IP         HOST NAME  DETAIL",
        f"10.0.0.4   -          {long}",
        "10.0.0.10  a",
    ]


def test_the_cli_libraries_stay_out_of_the_lambda_layer() -> None:
    """rich and PyYAML are the CLI's: not in the layer's requirements, and the layer's
    modules (what the functions import) never load them."""
    requirements = (ROOT / "layers" / "fixed_ip" / "requirements.txt").read_text().lower()
    names = {
        line.split("=")[0].split(">")[0].split("<")[0].strip() for line in requirements.splitlines()
    }
    assert not names & {"rich", "pyyaml"}
    code = (
        "import sys, pkgutil, importlib, fixed_ip\n"
        "for m in pkgutil.walk_packages(fixed_ip.__path__, 'fixed_ip.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in ('rich', 'yaml') if n in sys.modules))\n"
    )
    out = subprocess.run(  # noqa: S603 - our interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------- process level

# An operator install: the CLI without the development packages (moto and the test tools
# are made unimportable, as they are when only `pip install .` ran).
_OPERATOR = (
    "import sys\n"
    "sys.modules.update(dict.fromkeys(['moto', 'pytest', 'hypothesis', 'werkzeug'], None))\n"
    "from fixed_ip_cli.main import main\n"
    "sys.exit(main())\n"
)


def fixed_ip(*argv: str, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    return subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-c", _OPERATOR, *argv],
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=120,
        check=False,
        **kwargs,
    )


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Any]:
    """The simulated AWS on a loopback port, seeded with a pool; `env` points `fixed-ip`
    at it."""
    from fixed_ip_local import local_aws

    server = local_aws.start(port=free_port(), pending=0, out_dir=tmp_path / "events")
    server.env = {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "ap-northeast-1",
    }
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_an_operator_install_has_status_and_exit_codes(local: Any) -> None:
    env, pool, count = local.env, local.world.pool, len(local.world.enis)
    shown = fixed_ip("pool", "status", env=env, capture_output=True, text=True)
    assert shown.returncode == EXIT_OK, shown.stderr
    assert shown.stdout.startswith(f"pool {pool}: {count} ENIs, 0 in use, {count} free")

    unknown = fixed_ip(
        "pool", "status", "--pool", "nothing", env=env, capture_output=True, text=True
    )
    assert unknown.returncode == EXIT_NOT_FOUND
    assert f"no ENI of pool nothing in ap-northeast-1 (pools there: {pool})" in unknown.stderr

    group = local.world.group
    checked = fixed_ip(
        "doctor", "--group", group, "-o", "json", env=env, capture_output=True, text=True
    )
    assert "Traceback" not in checked.stderr
    assert json.loads(checked.stdout)["group"] == group


@pytest.mark.slow
def test_a_closed_pipe_is_no_traceback(local: Any) -> None:
    """`fixed-ip pool status | head -0`: the reader is gone before the first line."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = fixed_ip("pool", "status", env=local.env, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert proc.returncode == EXIT_CLOSED_PIPE
    assert proc.stderr == b""


# `invoke` needs no moto: it runs a function against whatever AWS boto3 is pointed at.
@pytest.mark.parametrize("command", ["demo", "local-aws"])
def test_development_commands_say_what_is_missing(command: str) -> None:
    proc = fixed_ip(command, capture_output=True, text=True)
    assert proc.returncode == EXIT_USAGE
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"error: `fixed-ip {command}` needs the local simulated AWS (moto is not installed): "
        "install the `local` extra (pipx install 'fixed-ip[local]' or pip install '.[local]' "
        "in a clone), or run `make venv` in a clone"
    )


def test_an_operator_install_validates_specs(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("pool: web\nsubnets: []\n")
    proc = fixed_ip("pool", "apply", str(spec), capture_output=True, text=True)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.splitlines()[1:] == [
        "  - subnets: give a list of subnets, each with `subnet` and `addresses`"
    ]


def test_the_package_list_ships_every_cli_module() -> None:
    """`pip install .` installs only the packages pyproject.toml lists: a new subpackage of
    the CLI left out would be missing from an operator install (and not from the editable
    install the tests run on)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = config["package-dir"]
    on_disk = {
        ".".join((name, *init.parent.relative_to(ROOT / roots[name]).parts))
        for name in ("fixed_ip", "fixed_ip_cli", "fixed_ip_local")
        for init in (ROOT / roots[name]).rglob("__init__.py")
    }
    assert on_disk <= set(config["packages"])
