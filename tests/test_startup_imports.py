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


# Not heavy, but not needed for the first frame either: the journals' typed records (~25 ms of
# dataclass creation, for the incident list, loaded in a worker after it), the YAML parser
# (compose files; loading a config only needs compose's default file names) and the runbook's
# model (~8 ms with its file: read after the first paint, the decision screen is the first to need it);
# what a config without [alertmanager] or [[hosts]] does not need, and the idle TTR clock's formatter.
FIRST_FRAME_LATER = (
    "console.incident.records",
    "console.incident.journal",
    "yaml",
    "console.decide.runbook",
    "console.observability.alertmanager",
    "console.fleet_config",
    "console.notify.messages",
)


def loaded_after(code: str, modules: tuple[str, ...] = HEAVY) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_importing_the_app_loads_none_of_the_heavy_modules():
    assert loaded_after("import screens.app") == []


def test_the_cli_parser_loads_none_of_them_either():
    assert loaded_after("import console.cli.main; console.cli.main.build_parser()") == []


def test_the_first_frame_needs_neither_the_journal_records_nor_yaml():
    code = (
        "import console.cli.main; console.cli.main.build_parser(); "
        "from console.config import load_config; load_config('config.example.toml'); import screens.app; "
        "screens.app.make_app(load_config('config.example.toml'))"
    )
    assert loaded_after(code, FIRST_FRAME_LATER) == []


def test_a_plain_tui_start_builds_no_subcommand_parser(monkeypatch):
    from console.cli import main as cli_main

    started = []
    monkeypatch.setattr(cli_main, "build_parser", lambda: (_ for _ in ()).throw(AssertionError("parser built")))
    monkeypatch.setattr(cli_main, "_run_tui", lambda path: started.append(path) or 0)
    starts = (([], None), (["-c", "a.toml"], "a.toml"), (["--config", "b.toml"], "b.toml"), (["--config=c"], "c"))
    for argv, path in starts:
        assert cli_main.main(argv) == 0
        assert started.pop() == path


def test_anything_else_goes_through_the_whole_parser():
    from console.cli.main import NOT_THE_TUI, tui_config_arg

    for argv in (["--help"], ["-c"], ["-c", "--version"], ["--config="], ["rollback"], ["-c", "x", "verify"], ["-cx"]):
        assert tui_config_arg(argv) is NOT_THE_TUI, argv


def test_a_plain_tui_start_imports_no_argument_parser():
    code = (
        "import console.cli.main; from console.cli.main import tui_config_arg, load_or_exit; "
        "tui_config_arg(['-c', 'config.example.toml']); import screens.app; "
        "screens.app.make_app(load_or_exit('config.example.toml'))"
    )
    assert loaded_after(code, ("argparse",)) == []
