"""The README's demo excerpt check itself (the demo run it compares with is in
tests/integration/test_simulation.py)."""

from __future__ import annotations

import re

from tests.docs.readme_demo import excerpt, shape, unseen_excerpt_lines


def test_the_excerpt_has_the_story() -> None:
    lines = excerpt()
    assert any(line.startswith("== step") for line in lines)
    assert any(line.startswith("demo finished") for line in lines)
    # What the controller promises is an address that answers inside the instance.
    assert any(line.startswith("INSTANCE") and line.split()[-1] == "OS" for line in lines)


def test_ids_times_and_row_order_do_not_matter_but_invented_lines_do() -> None:
    lines = excerpt()
    rerun = "\n".join(
        reversed(
            [
                # Another instance id (table rows now end with the OS column, not an id).
                "i-" + "f" * 17 + line[19:]
                if line.startswith("i-")
                else re.sub(r"\d+\.\d+s", "12.5s", line)
                for line in lines
            ]
        )
    )
    assert shape("i-0c73c10d9dc31d6aa  x 0.62s") == shape("i-1234567890abcdef0 x  9.99s")
    assert unseen_excerpt_lines(rerun) == []
    assert unseen_excerpt_lines(rerun.replace("ABANDON os_", "CONTINUE os_")) != []
    assert unseen_excerpt_lines("wall 17.49s\n") == lines
