"""The import direction of the pipeline, enforced on the source (no imports run).

engagement -> collectors -> snapshot -> checks -> findings -> notebooks -> site:
the foundation (``posture.model``) imports none of the stages; collectors and
checks import only the foundation and themselves, never each other or the top
(CLI, use cases, reporting, site, demo); notebooks import only the reporting
layer; only the CLI's ``demo`` command reaches the ``[demo]`` extra. Every
import counts, including those inside functions.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package prefix -> prefixes it may import from the project's own packages
ALLOWED: dict[str, tuple[str, ...]] = {
    "posture.model": ("posture.model",),
    "collectors": ("collectors", "posture.model"),
    "checks": ("checks", "posture.model"),
}
OWN = ("posture", "collectors", "checks")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module
                base = module.split(".")[: -node.level or None]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name in OWN:  # `from posture import report` names the module posture.report
                out += [(node.lineno, f"{name}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, name))
    return [(ln, n) for ln, n in out if n.split(".")[0] in OWN]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _sources() -> list[Path]:
    return sorted(p for pkg in OWN for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_import_only_downwards(layer: str) -> None:
    bad = []
    for path in _sources():
        mod = _module_name(path)
        if not _under(mod, layer):
            continue
        for line, name in _imports(ast.parse(path.read_text(encoding="utf-8")), mod):
            if not any(_under(name, ok) for ok in ALLOWED[layer]):
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not bad, "\n".join(bad)


def test_only_the_demo_command_reaches_the_demo_extra() -> None:
    bad = []
    for path in _sources():
        mod = _module_name(path)
        if _under(mod, "posture.demo") or mod == "posture.commands.demo":
            continue
        for line, name in _imports(ast.parse(path.read_text(encoding="utf-8")), mod):
            if _under(name, "posture.demo"):
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not bad, "\n".join(bad)


def test_notebooks_import_only_the_reporting_layer() -> None:
    bad = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
            src = "".join(cell["source"])
            tree = ast.parse("\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))))
            for _line, name in _imports(tree, "notebook"):
                if not _under(name, "posture.report"):
                    bad.append(f"{nb.name}: code cell {i + 1}: imports {name}")
    assert not bad, "\n".join(bad)


def test_rules_see_violations() -> None:
    """The detector itself: a collector importing checks, and a function-level import."""
    tree = ast.parse("import os\nfrom checks.engine import run\ndef f():\n    from posture import cli\n")
    names = [n for _, n in _imports(tree, "collectors.vault")]
    assert "checks.engine" in names and "posture.cli" in names and "os" not in names
    rel = ast.parse("from ..model import records\n")
    assert "posture.model" in [n for _, n in _imports(rel, "posture.site.pages")]
