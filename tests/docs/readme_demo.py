"""The README's demo excerpt must be lines the demo really prints (the old one showed a
`wall` line the demo never printed). Instance and ENI ids, times, which address a racing
launch gets and the order of a table's rows differ from run to run: lines are compared by
shape, with those masked.
tests/integration/test_simulation.py checks the excerpt against the demo run it makes."""

from __future__ import annotations

import re

from tests.helpers import ROOT

MASKS = [
    (re.compile(r"\bi-[0-9a-f]{8,17}\b"), "i-ID"),
    (re.compile(r"\beni-[0-9a-f]{8,17}\b"), "eni-ID"),
    (re.compile(r"\d+\.\d+s\b"), "N.Ns"),
    # Which address a lost launch or a burst gets depends on timing, not on the code.
    (re.compile(r"\b10\.0\.\d+\.\d+\b"), "IP"),
    (re.compile(r"\bserver-[a-z]\d+\b"), "HOST"),
    (re.compile(r"\S*controller\.log\b"), "LOG"),  # tests write the log to tmp_path
]


def shape(line: str) -> str:
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    return " ".join(line.split())


def excerpt() -> list[str]:
    """The lines of the README's ```text block that follows "From a real run"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"From a\s+real run:\s*\n```text\n(.*?)\n```", text, re.DOTALL)
    assert match, "README.md: no demo excerpt ('From a real run:' then a ```text block)"
    return [line for line in match[1].splitlines() if line.strip() and line.strip() != "..."]


def unseen_excerpt_lines(demo_output: str) -> list[str]:
    printed = {shape(line) for line in demo_output.splitlines()}
    return [line for line in excerpt() if shape(line) not in printed]
