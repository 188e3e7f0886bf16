"""The core runs headless: importing every console module must not pull in Textual."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import console

ROOT = Path(__file__).resolve().parent.parent


def core_modules():
    return sorted(
        m.name for m in pkgutil.walk_packages(console.__path__, "console.") if not m.name.endswith("__main__")
    )


def test_core_never_imports_textual_or_the_ui():
    modules = core_modules()
    assert "console.engine.runner" in modules and "console.cli.main" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'screens', 'widgets'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
