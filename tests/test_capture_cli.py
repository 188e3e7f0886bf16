"""`incident-console capture` refuses bad requests with exit 2 before touching anything (no sandbox)."""

from __future__ import annotations

import pytest

from console.cli.main import main

CONFIG = """
operator = "t"
[target]
host = "127.0.0.1"
port = 1
user = "deploy"
project_dir = "/opt/mr-dj"
project_name = "mr-dj"
[commands]
maintenance = false
migrations = false
smoke_tests = []
[registry]
url = "127.0.0.1:1"
[[services]]
name = "mr-dj-backend"
image = "mr-dj-backend"
role = "backend"
[paths]
state_dir = "{tmp}/state"
release_log = "{tmp}/releases.toml"
[capture]
source_dir = "{tmp}/src"
local_artifacts_dir = "{tmp}/artifacts"
database_url = "env:CAPTURE_TEST_DATABASE_URL"
"""
LOG = """
deployed = "v1"
[[releases]]
tag = "v1"
captured_at = "2026-11-22T12:00:00Z"
"""


@pytest.fixture
def config_path(tmp_path, monkeypatch):
    monkeypatch.delenv("CAPTURE_TEST_DATABASE_URL", raising=False)
    (tmp_path / "releases.toml").write_text(LOG)
    path = tmp_path / "console.toml"
    path.write_text(CONFIG.format(tmp=tmp_path))
    return path


@pytest.mark.parametrize(
    "tag, message",
    [
        ("bad tag", "refusing release tag"),
        ("../v1", "refusing release tag"),
        ("v1", "already in the release log"),
    ],
)
def test_bad_tags_exit_2(config_path, tmp_path, capsys, tag, message):
    assert main(["--config", str(config_path), "capture", "--tag", tag]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "artifacts").exists()


def test_missing_database_secret_exits_2_and_names_the_variable(config_path, tmp_path, capsys):
    assert main(["--config", str(config_path), "capture", "--tag", "v9"]) == 2
    err = capsys.readouterr().err
    assert "CAPTURE_TEST_DATABASE_URL" in err and "--skip-db" in err
    assert not (tmp_path / "artifacts").exists()


def test_progress_is_coalesced_per_layer_status_and_upload_decile():
    import io
    import json

    from console.capture.cli import PrintingReporter

    out = io.StringIO()
    reporter = PrintingReporter(as_json=True, out=out)
    for current in range(0, 1000, 10):
        reporter.push_progress("r/x:v3", "abc123", "Pushing", current, 1000)
    reporter.push_progress("r/x:v3", "abc123", "Pushed", None, None)
    for done in range(0, 1001, 1):
        reporter.upload_progress("v3-images.tar", done, 1000)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["status"] for e in events if e["event"] == "push"] == ["Pushing", "Pushed"]
    assert len([e for e in events if e["event"] == "upload"]) == 11
