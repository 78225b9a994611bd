"""Copy instance/fixed-ip-configure.sh into template.yaml's ConfigureDocument (`make document`).

CloudFormation takes an SSM document's content inline, and `sam deploy` packages no file into
it, so the template carries a copy of the script; the script file is the one that is edited,
linted (shellcheck) and tested. `--check` exits 1 when the copy differs (tests/template also
fails then). Only the lines of the block scalar under the document's `runCommand:` change;
the rest of the template, comments included, is kept byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "instance" / "fixed-ip-configure.sh"
TEMPLATE = REPO / "template.yaml"
RESOURCE = "  ConfigureDocument:\n"
INDENT = " " * 18  # the block scalar's indentation under "                - |"


def embed(template: str, script: str) -> str:
    """The template with the document's script block replaced by `script`."""
    start = template.index(RESOURCE)
    lines = template[start:].split("\n")
    run_command = next(i for i, line in enumerate(lines) if line.strip() == "runCommand:")
    block = next(
        i for i in range(run_command + 1, len(lines)) if lines[i].strip() == "- |"
    )  # comment lines may sit between the key and the item
    end = block + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(INDENT)):
        end += 1
    # Blank lines at the end of the block belong to what follows it.
    while end > block + 1 and not lines[end - 1].strip():
        end -= 1
    body = [INDENT + line if line else "" for line in script.rstrip("\n").split("\n")]
    lines[block + 1 : end] = body
    return template[:start] + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the copy differs")
    args = parser.parse_args(argv)
    template = TEMPLATE.read_text(encoding="utf-8")
    script = SCRIPT.read_text(encoding="utf-8")
    updated = embed(template, script)
    if updated == template:
        print("template.yaml: ConfigureDocument already carries instance/fixed-ip-configure.sh")
        return 0
    if args.check:
        print("template.yaml: ConfigureDocument differs from instance/fixed-ip-configure.sh;")
        print("run `make document`")
        return 1
    TEMPLATE.write_text(updated, encoding="utf-8")
    print("template.yaml: ConfigureDocument updated from instance/fixed-ip-configure.sh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
