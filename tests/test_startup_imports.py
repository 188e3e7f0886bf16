"""What the TUI's first paint imports: the home screen, not the engine, httpx, asyncssh or docker.

bench/bench_startup.py measures the start-up against a bare Textual app; these modules are
what made it ~2.5x. Each is imported when first needed (after the first paint, or when a
procedure, capture or notification starts).
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = (
    "console.engine.incident",
    "console.engine.runner",
    "asyncssh",
    "httpx",
    "docker",
    "screens.procedure",
    "screens.checklist",
    "screens.capture",
)


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_importing_the_app_loads_none_of_the_heavy_modules():
    assert loaded_after("import screens.app") == []


def test_the_cli_parser_loads_none_of_them_either():
    assert loaded_after("import console.cli.main; console.cli.main.build_parser()") == []
