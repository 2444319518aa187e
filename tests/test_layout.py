"""The layout shows the flow: each stage is the module its name says, and dvc.yaml lists every
project module a stage imports, so that a code change re-runs exactly the stages it touches."""

import ast
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def imports(path: Path, seen: set[Path]) -> set[Path]:
    """Every recipes/ module `path` imports, directly or through other recipes/ modules."""
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recipes"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("recipes")]
        for name in names:
            base = ROOT / Path(*name.split("."))
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.exists() and candidate not in seen:
                    seen.add(candidate)
                    imports(candidate, seen)
    return seen


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_module_is_named_as_the_stage_and_its_imports_are_deps(stage):
    spec = STAGES[stage].get("do", STAGES[stage])
    module = spec["cmd"].split()[2]
    assert module == f"recipes.stages.{stage}"
    script = ROOT / Path(*module.split(".")).with_suffix(".py")
    deps = [ROOT / d for d in spec["deps"]]
    needed = imports(script, {script}) - {ROOT / "recipes/__init__.py", ROOT / "recipes/stages/__init__.py"}
    missing = [str(p.relative_to(ROOT)) for p in needed
               if not any(p == d or d in p.parents for d in deps)]
    assert not missing, f"{stage} imports {missing} but dvc.yaml does not list them"
