"""Layers point one way: adapters -> ai_core.web / ai_core.tasks -> the rest of the core.

An AST walk over every module of the package (imports inside functions included, relative
ones resolved, ``importlib.import_module("...")`` with a literal name too), so a change that
quietly makes the core depend on the request layer, or the request layer on a framework,
fails here with the file and line. The rules (README, "The request layer (`ai_core.web`)"):

* no core module imports ``ai_core.web`` or ``ai_core.tasks`` (the layers built on it);
* ``ai_core.web`` imports no web framework: adapters read their framework's objects and call it;
* nothing under ``ai_core`` imports an adapter (``django_ai``, ``flask_ai``, ``fastapi_ai``),
  except that the doctor, a command-line tool over the whole package, reads a framework's
  settings with that adapter's spelling of the option names (``django_ai.options``,
  ``flask_ai.options``, which import no framework).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "core" / "ai_core"

UPPER_LAYERS = ("ai_core.web", "ai_core.tasks")
FRAMEWORKS = ("django", "flask", "starlette", "fastapi", "werkzeug", "quart")
ADAPTERS = ("django_ai", "flask_ai", "fastapi_ai")
SPELLINGS = ("django_ai.options", "flask_ai.options")
TOOLS = ("ai_core.doctor",)  # may import SPELLINGS


def module_name(path: Path, package_dir: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, package_dir: Path) -> Iterator[Tuple[int, str]]:
    """``(line, dotted name)`` of everything a module imports, wherever the import sits."""
    name = module_name(path, package_dir)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.module, node.level)
            if base is None:
                continue
            yield node.lineno, base
            for alias in node.names:  # ``from ai_core import web`` imports ai_core.web
                yield node.lineno, "%s.%s" % (base, alias.name)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def _absolute(module: str, is_package: bool, target: Optional[str], level: int) -> Optional[str]:
    if level == 0:
        return target
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if level - 1 > len(parts):
        return None
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([target] if target else []))


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def _within(name: str, prefixes: Tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_violations(package_dir: Path) -> List[str]:
    """Every import that breaks the layer rules, as ``path:line: module imports name (why)``."""
    problems: List[str] = []
    for path in sorted(package_dir.rglob("*.py")):
        module = module_name(path, package_dir)
        in_upper = _within(module, UPPER_LAYERS)
        in_web = _within(module, ("ai_core.web",))
        reported = set()
        for line, name in imported_names(path, package_dir):
            if line in reported:  # ``from ai_core.web import x`` is one problem, not two
                continue
            why = None
            if not in_upper and _within(name, UPPER_LAYERS):
                why = "the core must not import the layers built on it"
            elif in_web and _within(name, FRAMEWORKS):
                why = "ai_core.web must not import a web framework (the adapters read it)"
            elif _within(name, ADAPTERS) and not (_within(module, TOOLS) and _within(name, SPELLINGS)):
                why = "ai_core must not import an adapter"
            if why:
                reported.add(line)
                problems.append("%s:%d: %s imports %s (%s)" % (path.relative_to(package_dir.parent), line, module, name, why))
    return problems


def test_imports_point_one_way_in_the_package():
    assert layer_violations(PACKAGE) == []


@pytest.mark.parametrize(
    "module, source, found",
    [
        ("sampler.py", "from ai_core.web.exclusion import is_excluded_context\n", "ai_core.web.exclusion"),
        ("envelopes/spans.py", "def f():\n    from ..web import annotation\n", "ai_core.web"),
        ("options.py", "from ai_core import tasks\n", "ai_core.tasks"),
        ("lifecycle.py", "import importlib\nimportlib.import_module('ai_core.web.stop')\n", "ai_core.web.stop"),
        ("web/naming.py", "from starlette.routing import Match\n", "starlette.routing"),
        ("web/user.py", "def f():\n    import flask\n", "flask"),
        ("web/setup.py", "from fastapi_ai.scope import app_name\n", "fastapi_ai.scope"),
        ("options.py", "from django_ai.options import label\n", "django_ai.options"),
        ("doctor/checks.py", "from flask_ai.extension import ApplicationInsights\n", "flask_ai.extension"),
    ],
)
def test_a_bad_import_is_reported(tmp_path, module, source, found):
    package = tmp_path / "ai_core"
    for name in ("__init__.py", "web/__init__.py", "envelopes/__init__.py", "doctor/__init__.py", "web/allowed.py",
                 "doctor/allowed.py"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text("")
    # What is allowed: the request layer builds on the core, anything imports the standard library.
    (package / "web" / "allowed.py").write_text("from ai_core.configure import configure\nimport json\nfrom . import user\n")
    (package / "doctor" / "allowed.py").write_text("def f():\n    from django_ai.options import label\n")
    target = package / module
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)

    problems = layer_violations(package)

    assert len(problems) == 1, problems
    assert " imports %s " % found in problems[0]
