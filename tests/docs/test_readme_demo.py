"""The README's demo excerpt check itself (the demo run it compares with is in
tests/integration/test_simulation.py)."""

from __future__ import annotations

from tests.docs.readme_demo import excerpt, shape, unseen_excerpt_lines


def test_the_excerpt_has_the_story() -> None:
    lines = excerpt()
    assert any(line.startswith("== step") for line in lines)
    assert any(line.startswith("demo finished") for line in lines)


def test_ids_times_and_row_order_do_not_matter_but_invented_lines_do() -> None:
    lines = excerpt()
    rerun = "\n".join(
        reversed(
            [
                line.replace("i-0", "i-f")[:-1] + "7"
                if line.startswith("i-")
                else line.replace("7.8s", "12.5s")
                for line in lines
            ]
        )
    )
    assert shape("i-0c73c10d9dc31d6aa  x 0.62s") == shape("i-1234567890abcdef0 x  9.99s")
    assert unseen_excerpt_lines(rerun) == []
    assert unseen_excerpt_lines(rerun.replace("invariants OK", "invariants broken")) != []
    assert unseen_excerpt_lines("wall 17.49s\n") == lines
