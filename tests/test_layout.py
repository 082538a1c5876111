"""The library's layout: each module imports only from its own floor or the floors below it."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pipeline"
FLOORS = {"": 0, "data": 1, "model": 2, "evaluation": 3, "training": 4, "reporting": 5, "workflow": 6}
# the two training stages share what lies in training/ but not each other
SIBLINGS = {("training", "finetune"), ("training", "pretrain")}
# the package's own __init__ re-exports its public entry point, lazily (no floor imports it from there)
FACADE = {("__init__",): {"pipeline.model.export", "pipeline.model.export.load_trained"}}


def _module(path: Path) -> tuple[str, ...]:
    return path.relative_to(PACKAGE).with_suffix("").parts


def _floor(parts: tuple[str, ...]) -> str:
    return parts[0] if len(parts) > 1 and parts[0] in FLOORS else ""


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pipeline":
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            yield node.lineno, names
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pipeline":
                    yield node.lineno, [alias.name]


def _target(name: str) -> tuple[str, ...] | None:
    """The module a dotted import name refers to (an attribute import resolves to its module)."""
    parts = tuple(name.split(".")[1:])
    while parts:
        if (PACKAGE.joinpath(*parts).with_suffix(".py")).is_file() or (
            PACKAGE.joinpath(*parts) / "__init__.py"
        ).is_file():
            return parts
        parts = parts[:-1]
    return None


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: "/".join(_module(p)))
def test_imports_stay_on_or_below_their_floor(path):
    here = _module(path)
    floor = FLOORS[_floor(here)]
    for line, names in _imports(path):
        for name in names:
            target = _target(name)
            if target is None or target == () or name in FACADE.get(here, ()):
                continue
            assert FLOORS[_floor(target)] <= floor, f"{path.name}:{line} imports {name} from a floor above"
            if here[:2] in SIBLINGS and target[:2] in SIBLINGS:
                assert here[:2] == target[:2], (
                    f"{path.name}:{line}: {here[1]} imports the sibling stage {name}"
                )


def test_the_check_sees_a_violation(tmp_path):
    """The walker finds an upward import (so the test above can fail)."""
    bad = PACKAGE / "data" / "readers.py"
    lines = [(line, names) for line, names in _imports(bad)]
    assert lines, "readers.py imports from pipeline"
    assert FLOORS[_floor(_target("pipeline.reporting.tables"))] > FLOORS[_floor(_module(bad))]
