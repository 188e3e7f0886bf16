"""CLI habits: -c anywhere, help on every flag with exit codes and an example, --json schema fields,
a quiet end when the reader of a pipe goes away, completion scripts."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def _parsers(parser=None, prefix=""):
    """Every parser, the subcommands of a subcommand (``incident show``) included."""
    if parser is None:
        parser = build_parser()
        yield "incident-console", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + name, sub
                yield from _parsers(sub, f"{prefix}{name} ")


def test_config_is_accepted_before_or_after_the_subcommand():
    parser = build_parser()
    assert parser.parse_args(["-c", "a.toml", "incidents"]).config == "a.toml"
    assert parser.parse_args(["incidents", "-c", "b.toml"]).config == "b.toml"
    assert parser.parse_args(["incidents", "--config", "b.toml"]).config == "b.toml"
    assert parser.parse_args(["--config", "a.toml", "rollback", "--dry-run"]).config == "a.toml"
    assert parser.parse_args(["incidents"]).config is None
    assert parser.parse_args(["incident", "show", "X", "-c", "d.toml"]).config == "d.toml"
    assert parser.parse_args(["incident", "-c", "e.toml", "open"]).config == "e.toml"
    assert parser.parse_args(["-c", "f.toml", "incident", "open"]).config == "f.toml"


def test_every_flag_has_help_and_every_help_shows_exit_codes_and_an_example():
    for name, parser in _parsers():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help text"
        if name == "_complete":
            continue
        text = parser.format_help()
        assert "exit codes: 0 success, 1 procedure failed, 2 bad input, 130 interrupted" in text, name
        assert "example:" in text or "examples:" in text, name


def test_json_lines_carry_schema_version_and_timestamp():
    from console.cli.output import json_line

    line = json.loads(json_line({"event": "step", "message": "x"}))
    assert line["v"] == 1 and line["ts"].endswith("Z") and line["event"] == "step"
    assert json.loads(json_line({"ts": "own"}))["ts"] == "own"  # an event's own timestamp stays


def test_incidents_json_piped_into_head_ends_quietly(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    from console.incident.journal import Journal

    for i in range(300):
        Journal.create(state, f"20261129-0000{i:03d}-test").record(
            "incident_opened", operator="t", target="h", deployed="v1"
        )
    config = tmp_path / "c.toml"
    config.write_text(
        f'[target]\nhost = "h"\nproject_name = "a"\nproject_dir = "/opt/a"\n'
        f"[commands]\nmaintenance = false\nmigrations = false\nsmoke_tests = []\n"
        f'[registry]\nurl = "r:5000"\n[[services]]\nname = "a"\nimage = "a"\n'
        f'[[health]]\nname = "a"\nurl = "http://127.0.0.1:1/"\n[paths]\nstate_dir = "{state}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    pipeline = subprocess.run(
        f"{sys.executable} -m console incidents --json -c {config} | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert pipeline.stdout.count("\n") == 1 and json.loads(pipeline.stdout)["v"] == 1
    assert "Traceback" not in pipeline.stderr and "BrokenPipeError" not in pipeline.stderr, pipeline.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_complete_subcommands_ids_and_tags(shell, capsys):
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "rollback" in script and "capture" in script
    assert "_incident_console_ids" in script and "_incident_console_tags" in script
    assert "decide" in script and "resolve" in script  # the incident verb's subcommands
    if shell == "bash":
        done = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert done.returncode == 0, done.stderr
