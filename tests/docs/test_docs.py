"""The doc checker: every shell command in README.md and docs/ runs here, or is marked as
needing AWS. The convention (docs/testing.md, "Commands in the docs"):

    ```sh local-aws   run in document order, as one bash script per document, against
                      `fixed-ip local-aws` started for it (as `make local-aws` does) on a
                      free port: `127.0.0.1:5000` in the text becomes that port. The
                      script's environment has no AWS_* variable: its own `export` line
                      must point every tool at the local AWS.
    ```sh run         run with bash in a scratch directory laid out like the repository
                      (examples/, events/, template.yaml, .venv), no AWS reachable.
    ```sh make        `make TARGET` lines only; each target must exist (`make -n`). What
                      they run is tested elsewhere (make test is this suite, make demo
                      tests/integration/test_simulation.py, make local-aws the blocks above).
    ```sh aws         needs an AWS account, the SAM CLI or Docker: only parsed (`bash -n`).

A shell block (sh, bash, shell, console) without exactly one of these markers fails, and so
does an indented code block holding a command: it would escape the checker."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port, run_captured

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
MARKERS = {"local-aws", "run", "make", "aws"}
SHELLS = {"sh", "bash", "shell", "console", "zsh"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)(?P<info>.*)$")
COMMAND = re.compile(r"^\s*(\$ |\.venv/bin/|fixed-ip |aws |sam |make |export |python )")
VENV_BIN = Path(sys.executable).parent
STARTED = "Ctrl-C stops it."
BASH = shutil.which("bash") or "/bin/bash"
MAKE = shutil.which("make") or "make"


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    marker: str | None
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> tuple[list[Block], list[str]]:
    """Fenced blocks of a markdown file, and problems found while reading it."""
    found: list[Block] = []
    problems: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            if _indented_command(lines, i):
                problems.append(
                    f"{path.relative_to(ROOT)}:{i + 1}: a command in an indented code block: "
                    "fence it as ```sh with a marker (docs/testing.md)"
                )
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        words = match["info"].split()
        body: list[str] = []
        start = i
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        lang = words[0] if words else ""
        marker = words[1] if len(words) > 1 else None
        found.append(Block(path, start + 1, lang, marker, "\n".join(body) + "\n"))
    return found, problems


def _indented_command(lines: list[str], i: int) -> bool:
    """An indented code block (4 spaces after a blank line, outside any list) whose line
    looks like a command."""
    line = lines[i]
    if not line.startswith("    ") or not COMMAND.match(line[4:]):
        return False
    j = i - 1
    while j >= 0 and lines[j].startswith("    "):
        j -= 1
    return j >= 0 and not lines[j].strip() and not _in_list(lines, j)


def _in_list(lines: list[str], j: int) -> bool:
    while j >= 0 and (not lines[j].strip() or lines[j].startswith(" ")):
        j -= 1
    return j >= 0 and bool(re.match(r"^(\d+\.|[-*])\s", lines[j]))


ALL = {path: blocks(path) for path in DOCS}


def shell_blocks(marker: str | None = None) -> list[Block]:
    return [
        b
        for found, _ in ALL.values()
        for b in found
        if b.lang in SHELLS and (marker is None or b.marker == marker)
    ]


def test_every_shell_block_is_marked() -> None:
    problems = [p for _, found in ALL.values() for p in found]
    for block in shell_blocks():
        if block.lang != "sh":
            problems.append(f"{block.where}: ```{block.lang}: use ```sh with a marker")
        elif block.marker not in MARKERS:
            problems.append(
                f"{block.where}: ```sh {block.marker or ''}: give one of {sorted(MARKERS)} "
                "after sh (docs/testing.md, 'Commands in the docs')"
            )
    assert not problems, "\n".join(problems)


def test_the_docs_have_runnable_walkthroughs() -> None:
    """The checker checks something: README and docs/local-development.md each run a local
    walkthrough (a doc checker that found no block would pass on anything)."""
    documents = {b.path.name for b in shell_blocks("local-aws")}
    assert {"README.md", "local-development.md"} <= documents, documents


@pytest.mark.parametrize("block", shell_blocks("aws"), ids=lambda b: b.where)
def test_aws_blocks_parse(block: Block) -> None:
    proc = subprocess.run(  # noqa: S603 - bash parses (-n), never runs, the docs' text
        [BASH, "-n"], input=block.text, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"{block.where}: {proc.stderr}"


@pytest.mark.parametrize("block", shell_blocks("make"), ids=lambda b: b.where)
def test_make_blocks_name_real_targets(block: Block) -> None:
    for raw in block.text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        assert words[0] == "make" and len(words) >= 2, f"{block.where}: {raw!r} is not make X"
        targets = [w for w in words[1:] if "=" not in w]
        proc = subprocess.run(  # noqa: S603 - make -n only prints what it would run
            [MAKE, "-n", *targets], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert "No rule to make target" not in proc.stderr, f"{block.where}: {proc.stderr}"


# ------------------------------------------------------------------ blocks that run


def _scratch(tmp_path: Path) -> Path:
    """A directory laid out like the repository for the commands to run in: they read
    examples/ and events/ and call .venv/bin/fixed-ip, and whatever they write (such as
    .local-aws/) stays in the temporary directory."""
    fixed_ip = VENV_BIN / "fixed-ip"
    assert fixed_ip.exists(), f"{fixed_ip} missing: run the tests from the project's venv"
    for name in ("examples", "events", "template.yaml", "layers", "functions"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".venv").symlink_to(VENV_BIN.parent)
    return tmp_path


def _environment(tmp_path: Path) -> dict[str, str]:
    """The user's environment without any AWS setting, so that only the docs' own export
    lines can point the commands anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    env["HOME"] = str(tmp_path)  # no ~/.aws/config or credentials of the machine
    # PATH as the user has it: no venv activated, so the docs must say .venv/bin/fixed-ip.
    env.pop("VIRTUAL_ENV", None)
    return env


def _script(docs_blocks: list[Block], port: int | None) -> str:
    parts = ["set -euo pipefail"]
    aws_cli = shutil.which("aws") is not None
    for block in docs_blocks:
        text = block.text
        if port is not None:
            text = text.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
        if not aws_cli:
            # The AWS CLI is not a dependency of the project: without it its lines are
            # skipped, loudly, and everything else still runs.
            text = re.sub(r"(?m)^aws .*$", 'echo "SKIPPED (no AWS CLI): aws ..." >&2', text)
        parts.append(f"echo '>>> {block.where}' >&2")
        parts.append(text)
    return "\n".join(parts) + "\n"


def _run(script: str, cwd: Path, env: dict[str, str], what: str) -> None:
    # the repository's own documented commands
    proc = run_captured([BASH, "-c", script], cwd=cwd, env=env, timeout=300)
    if "SKIPPED (no AWS CLI)" in proc.stderr:
        import warnings

        warnings.warn(f"{what}: AWS CLI lines skipped (no aws on PATH)", stacklevel=1)
    assert proc.returncode == 0, (
        f"{what} failed (exit {proc.returncode}); the last block started is the last '>>>' "
        f"line:\n--- stderr\n{proc.stderr[-4000:]}\n--- stdout\n{proc.stdout[-4000:]}"
    )


def _documents(marker: str) -> list[Path]:
    return sorted({b.path for b in shell_blocks(marker)})


@pytest.mark.slow
@pytest.mark.parametrize("path", _documents("local-aws"), ids=lambda p: p.name)
def test_local_aws_walkthrough_runs_as_written(path: Path, tmp_path: Path) -> None:
    cwd = _scratch(tmp_path)
    env = _environment(tmp_path)
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [str(VENV_BIN / "fixed-ip"), "local-aws", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the Ctrl-C below is for it alone
    )
    try:
        _wait_started(server)
        documented = [b for b in shell_blocks("local-aws") if b.path == path]
        _run(_script(documented, port), cwd, env, f"{path.name} (local-aws blocks)")
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C, as the docs say
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, f"local-aws exited {server.returncode}"


def _wait_started(server: subprocess.Popen[str], timeout: float = 60) -> None:
    assert server.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line and server.poll() is not None:
            break
        seen.append(line)
        if line.strip() == STARTED:
            return
    pytest.fail("fixed-ip local-aws did not start:\n" + "".join(seen[-30:]))


@pytest.mark.parametrize("path", _documents("run"), ids=lambda p: p.name)
def test_run_blocks_run(path: Path, tmp_path: Path) -> None:
    cwd = _scratch(tmp_path)
    documented = [b for b in shell_blocks("run") if b.path == path]
    _run(_script(documented, None), cwd, _environment(tmp_path), f"{path.name} (run blocks)")
