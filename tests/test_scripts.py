"""Every benchmark and example script imports (its own folder on the path, as when run with
``python benchmarks/.../x.py``) and has a ``main``: a moved or renamed nfpo name breaks this
test, not a benchmark rerun months later."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.relative_to(ROOT).as_posix()
                 for folder in ("benchmarks", "examples") for p in (ROOT / folder).rglob("*.py"))

CHECK = """
import importlib.util, pathlib, sys
path = sys.argv[1]
sys.path.insert(0, str(pathlib.Path(path).parent))
spec = importlib.util.spec_from_file_location("script_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert callable(getattr(module, "main", None)), f"{path} has no main()"
"""


def test_scripts_are_found():
    assert "benchmarks/throughput/backends.py" in SCRIPTS and len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_imports_and_has_main(script):
    out = subprocess.run([sys.executable, "-c", CHECK, str(ROOT / script)], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
