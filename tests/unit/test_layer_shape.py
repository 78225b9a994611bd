"""The layer's shape (issue 10): no module grows past 250 lines, and the value objects
moved to fixed_ip.domain are still importable from fixed_ip.models, as the same objects."""

from __future__ import annotations

import ast
from pathlib import Path

import fixed_ip
from fixed_ip import domain, models

LAYER = Path(fixed_ip.__file__).parent
MAX_LINES = 250


def test_no_module_of_the_layer_passes_250_lines():
    sizes = {
        str(p.relative_to(LAYER)): len(p.read_text().splitlines()) for p in LAYER.rglob("*.py")
    }
    assert len(sizes) > 20  # the layer itself was found, not an empty folder
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_models_still_hands_out_the_domain_value_objects():
    for name in ("Instance", "Interface", "PoolEni", "ManagedGroup", "Hook", "GroupInstance"):
        assert getattr(models, name) is getattr(domain, name)
    assert models.GROUPS_TAG == domain.GROUPS_TAG == "fixed-ip:groups"


def test_the_domain_module_imports_neither_aws_nor_pydantic():
    tree = ast.parse(Path(domain.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "fnmatch", "re", "dataclasses", "datetime"}, imported
