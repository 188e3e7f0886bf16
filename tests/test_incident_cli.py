"""`incident-console incident ...`: an incident from open to resolved without the TUI (no host needed)."""

import json

import pytest

from console.cli.main import main
from console.incident.journal import open_incident
from console.incident.report import render_report
from tests._screens_support import make_config


@pytest.fixture
def config(monkeypatch, tmp_path):
    config = make_config(tmp_path)
    monkeypatch.setattr("console.cli.config_loader.load_config_or_exit", lambda path: config)
    return config


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(["incident", *argv])
    except SystemExit as exit_:  # bad input found while loading, as a bad config does
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_open_decide_tick_waive_retro_resolve(config, capsys):
    code, out, _ = run(capsys, "open", "--deployed", "v2")
    assert code == 0
    incident = out.strip()
    assert run(capsys, "decide", incident, "rollback", "--answer", "customer_impact=yes")[0] == 0
    assert run(capsys, "tick", incident, "backup_verified")[0] == 0
    assert run(capsys, "waive", incident, "support_informed", "--reason", "told by phone")[0] == 0
    assert run(capsys, "retro", incident, "--root-cause", "bad v2 config", "--action", "add a smoke test")[0] == 0
    code, out, _ = run(capsys, "resolve", incident, "--summary", "rolled back v2 to v1")
    assert code == 0 and "resolved" in out
    state = open_incident(config.paths.state_dir, incident).state
    assert state.status == "resolved" and state.decided == "rollback" and not state.outcome.overridden
    assert state.answers == {"customer_impact": True}
    assert {i: t.status for i, t in state.ticks.items()} == {"backup_verified": "done", "support_informed": "waived"}
    assert state.retro.action_items == ["add a smoke test"] and state.resolved.summary == "rolled back v2 to v1"
    code, out, _ = run(capsys, "show", incident, "--json")
    shown = json.loads(out)
    assert shown["state"] == "resolved" and shown["ticks"]["support_informed"]["reason"] == "told by phone"
    assert "rolled back v2 to v1" in render_report(state)
    # resolving twice is bad input, not a second resolution
    assert run(capsys, "resolve", incident, "--summary", "again")[0] == 2
    code, _, err = run(capsys, "decide", incident, "rollback")
    assert code == 2 and "is resolved" in err


def test_an_override_needs_a_reason(config, capsys):
    incident = run(capsys, "open", "--deployed", "v2")[1].strip()
    code, _, err = run(capsys, "decide", incident, "code_hotfix", "--answer", "customer_impact=yes")
    assert code == 2 and "needs a reason" in err
    code, _, _ = run(capsys, "decide", incident, "code_hotfix", "--reason", "one-line fix is ready")
    assert code == 0
    state = open_incident(config.paths.state_dir, incident).state
    assert state.outcome.overridden and state.outcome.tree_outcome == "rollback"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tick", "{id}", "no_such_item"], "no checklist item"),
        (["waive", "{id}", "backup_verified", "--reason", "  "], "needs a reason"),
        (["decide", "{id}", "rollback", "--answer", "customer_impact=maybe"], "QUESTION=yes|no"),
        (["decide", "{id}", "teleport"], "no outcome"),
        (["show", "20000101-000000-none"], "no incident"),
    ],
)
def test_bad_input_exits_2_with_a_specific_message(config, capsys, argv, message):
    incident = run(capsys, "open", "--deployed", "v2")[1].strip()
    code, _, err = run(capsys, *[a.replace("{id}", incident) for a in argv])
    assert code == 2 and message in err
