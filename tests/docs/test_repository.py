"""The repository around the code: what the README's first screen holds, the design
sections the code cites, and `make clean`."""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.helpers import ROOT

FIRST_SCREEN = 60
THIS = ROOT / "tests" / "docs" / "test_repository.py"


def test_the_readme_leads_within_one_screen() -> None:
    """What it does, what it fixes, the two commands, the demo and the local walkthrough
    come before the first reference section (## Documentation), in at most 60 lines."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    first_reference = lines.index("## Documentation")
    assert first_reference <= FIRST_SCREEN, first_reference
    lead = "\n".join(lines[:first_reference])
    for needed in ("make demo", "make test", "```text", "AmazonEC2FullAccess", "make local-aws"):
        assert needed in lead, needed


def test_design_sections_cited_by_the_code_exist() -> None:
    headings = set(
        re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "design.md").read_text(), re.MULTILINE)
    )
    cited: dict[str, str] = {}
    for folder in ("layers", "functions", "tools", "devtools", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            # The design document lives in docs/design.md, not in a file outside the repo.
            stale = re.search(r"\bDESIGN\s+section", text)
            assert path == THIS or not stale, f"{path}: cite docs/design.md section N"
            for number in re.findall(r"docs/design\.md\s+section\s+(\d+)", text):
                cited[number] = str(path.relative_to(ROOT))
    assert cited, "no citation found: the pattern is stale"
    missing = {n: where for n, where in cited.items() if n not in headings}
    assert not missing, missing


def test_make_clean_removes_everything_generated(tmp_path) -> None:
    """Every path .gitignore names (what builds, runs and tests generate) is gone after
    `make clean`, run on a scratch tree that has them all."""
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    patterns = [
        p.strip().rstrip("/")
        for p in (ROOT / ".gitignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    made = []
    for pattern in patterns:
        name = pattern.replace("*", "x")
        target = tmp_path / "sub" / name if name in {"__pycache__", "x.pyc"} else tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".pyc"):
            target = tmp_path / "sub" / "__pycache__" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("")
        else:
            target.mkdir(parents=True, exist_ok=True)
            (target / "file").write_text("")
        made.append(target)
    kept = tmp_path / "layers" / "fixed_ip" / "requirements.txt"
    kept.parent.mkdir(parents=True)
    kept.write_text("kept\n")
    proc = subprocess.run(  # noqa: S603 - the project's own Makefile, on a scratch tree
        [shutil.which("make") or "make", "clean"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    left = [str(p.relative_to(tmp_path)) for p in made if p.exists()]
    assert not left, f"make clean left {left}"
    assert kept.exists()


def test_every_template_parameter_is_documented() -> None:
    """docs/deploy.md's parameter table lists each parameter of template.yaml, and only
    those (a parameter added to the template without a word for the user fails here)."""
    from fixed_ip_local.lambda_runner import load_template

    parameters = set(load_template()["Parameters"])
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Za-z0-9]+)` \|", text, re.MULTILINE))
    assert not parameters - documented, f"not in docs/deploy.md: {sorted(parameters - documented)}"
    assert not documented - parameters, f"not in template.yaml: {sorted(documented - parameters)}"
