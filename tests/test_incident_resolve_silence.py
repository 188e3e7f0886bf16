"""`incident resolve` from the CLI ends the incident's Alertmanager silence as the TUI does: expired
(DELETE on a real loopback HTTP server), kept with --keep-silence, and a failed expiry is told."""

import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from console.cli.main import main
from console.engine.incident import open_new_incident
from console.incident.journal import open_incident
from console.incident.records import AlertSilence
from console.observability.settings import AlertmanagerSettings
from tests._screens_support import make_config

SILENCE = "5e1f3a2b-0000-4000-8000-000000000001"


@pytest.fixture
def alertmanager():
    deleted: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_DELETE(self):  # noqa: N802 (http.server's name)
            deleted.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", deleted
    server.shutdown()
    server.server_close()


def incident_with_silence(monkeypatch, tmp_path, url: str, keep_by_config: bool = False):
    config = make_config(tmp_path)
    config = dataclasses.replace(
        config,
        observability=dataclasses.replace(
            config.observability, alertmanager=AlertmanagerSettings(url=url, timeout=2, keep_silence=keep_by_config)
        ),
    )
    monkeypatch.setattr("console.cli.config_loader.load_config_or_exit", lambda path: config)
    journal = open_new_incident(config, "v2")
    journal.append(
        AlertSilence(
            action="created",
            silence_id=SILENCE,
            matchers=['env="production"'],
            ends_at="2026-11-29T13:02:00.000Z",
            created_by="oncall",
        )
    )
    return config, journal.incident_id


def resolve(capsys, incident, *flags):
    code = main(["incident", "resolve", incident, "--summary", "rolled back v2 to v1", "--no-post", *flags])
    out, err = capsys.readouterr()
    return code, out, err


def actions(config, incident):
    state = open_incident(config.paths.state_dir, incident).state
    return [s.action for s in state.silences], state


def test_resolve_expires_the_incidents_silence(monkeypatch, tmp_path, capsys, alertmanager):
    url, deleted = alertmanager
    config, incident = incident_with_silence(monkeypatch, tmp_path, url)
    code, out, _ = resolve(capsys, incident)
    assert code == 0 and f"silence {SILENCE} expired" in out
    assert deleted == [f"/api/v2/silence/{SILENCE}"]
    done, state = actions(config, incident)
    assert done == ["created", "expired"] and state.active_silence is None and state.status == "resolved"


@pytest.mark.parametrize("by_config", [False, True])
def test_resolve_keeps_the_silence_when_asked(monkeypatch, tmp_path, capsys, alertmanager, by_config):
    url, deleted = alertmanager
    config, incident = incident_with_silence(monkeypatch, tmp_path, url, keep_by_config=by_config)
    code, out, _ = resolve(capsys, incident, *([] if by_config else ["--keep-silence"]))
    assert code == 0 and "kept until 13:02 UTC" in out
    assert deleted == []
    done, state = actions(config, incident)
    assert done == ["created", "kept"] and state.silences[-1].ends_at == "2026-11-29T13:02:00.000Z"


def test_a_failed_expiry_is_told_and_the_silence_stays_active(monkeypatch, tmp_path, capsys):
    config, incident = incident_with_silence(monkeypatch, tmp_path, "http://127.0.0.1:9")  # nothing listens
    code, _, err = resolve(capsys, incident)
    assert code == 0  # the incident is resolved; the silence is the coordinator's to expire by hand
    assert f"silence {SILENCE} not expired" in err and "by hand" in err
    done, state = actions(config, incident)
    assert done == ["created"] and state.active_silence.silence_id == SILENCE and state.status == "resolved"


def test_resolve_without_a_silence_says_nothing_about_one(monkeypatch, tmp_path, capsys, alertmanager):
    url, deleted = alertmanager
    config = make_config(tmp_path)
    monkeypatch.setattr("console.cli.config_loader.load_config_or_exit", lambda path: config)
    incident = open_new_incident(config, "v2").incident_id
    code, out, _ = resolve(capsys, incident)
    assert code == 0 and "silence" not in out and deleted == []
