"""What a user installs from PyPI: the wheel and sdist built from this tree hold every module.

A package list written by hand once left a new subpackage out of the wheel while the
editable install used by the other tests still worked; this builds both distributions the
way a release does (the PEP 517 backend, in a copy of the tree) and compares them with the
files on disk.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"core/ai_core": "ai_core", "django_ai": "django_ai", "flask_ai": "flask_ai", "fastapi_ai": "fastapi_ai"}
_SKIP = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache",
                               "test-output", ".demo", "*.sqlite3")


def _expected_files() -> Set[str]:
    """Every module, py.typed and emulator static file, as its path inside the wheel."""
    out: Set[str] = set()
    for folder, name in PACKAGES.items():
        base = ROOT / folder
        for path in base.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(base).as_posix()
                if path.suffix == ".py" or path.name == "py.typed" or rel.startswith("emulator/static/"):
                    out.add(f"{name}/{rel}")
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    src = tmp_path_factory.mktemp("src") / "appinsights-otel"
    shutil.copytree(ROOT, src, ignore=_SKIP)
    out = tmp_path_factory.mktemp("dist")
    code = (
        "import sys; from setuptools import build_meta as b; "
        "out = sys.argv[1]; w = b.build_wheel(out); s = b.build_sdist(out); print('BUILT', w, s)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=src, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The backend prints its own progress on stdout; our line is the last one.
    wheel, sdist = proc.stdout.strip().splitlines()[-1].split()[1:]
    return {"wheel": out / wheel, "sdist": out / sdist}


def _missing(expected: Set[str], present: Set[str]) -> List[str]:
    return sorted(expected - present)


def test_wheel_contains_every_module_typed_marker_and_viewer_file(built: Dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as zf:
        names = set(zf.namelist())
    expected = _expected_files()
    # Sanity: the tree has what we think it has, so an empty comparison cannot pass by accident.
    assert {"ai_core/__init__.py", "ai_core/web/__init__.py", "ai_core/emulator/static/index.html",
            "ai_core/py.typed", "django_ai/py.typed", "flask_ai/py.typed", "fastapi_ai/py.typed"} <= expected
    assert _missing(expected, names) == []
    # Nothing from outside the packages (tests, scripts, a stray `core` package) is installed.
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"ai_core", "django_ai", "flask_ai", "fastapi_ai"}


def test_sdist_contains_every_module_typed_marker_and_viewer_file(built: Dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    on_disk = {f"{folder}/{rel.split('/', 1)[1]}" for rel in _expected_files()
               for folder, name in PACKAGES.items() if rel.startswith(name + "/")}
    assert _missing(on_disk, names) == []
    assert "pyproject.toml" in names and "README.md" in names


def test_import_core_from_the_repository_root_is_not_a_second_ai_core() -> None:
    code = (
        "import sys, ai_core, core; "
        "print(getattr(core, 'configure', None) is None, "
        "sum(1 for m in sys.modules.values() if getattr(m, 'configure', None) is not None "
        "and getattr(m, '__name__', '').split('.')[-1] in ('ai_core', 'core')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "1"]


def test_module_files_match_their_import_names() -> None:
    import ai_core.delivery.transport as transport

    assert Path(transport.__file__).resolve() == ROOT / "core" / "ai_core" / "delivery" / "transport.py"
