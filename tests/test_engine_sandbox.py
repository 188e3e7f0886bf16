"""The rollback procedure end to end against the real sandbox (sshd, dockerd, registry, PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import httpx
import pytest
import tomli_w

from console.config import load_config
from console.engine.events import StepStarted
from console.engine.incident import IncidentRun, build_rollback, open_new_incident, rebuild_procedure
from console.engine.procedure import Procedure, Step
from console.engine.runner import Choice
from console.failures import FailureReason
from console.incident.journal import Journal, list_incidents
from console.release.release_log import ReleaseLog
from console.transport.ssh import SSHTransport
from tests.conftest import ROOT, host, sandbox_env

pytestmark = pytest.mark.sandbox
CLI = [sys.executable, "-m", "console"]


def cli(config_path, *args, timeout=600):
    return subprocess.run(
        [*CLI, "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=sandbox_env(),
    )


def health_versions():
    out = {}
    for port in (18081, 18082):
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5, trust_env=False)
            out[port] = health.json().get("version")
        except httpx.HTTPError:
            out[port] = None
    return out


def compose_state(config):
    ps = host(config, "docker ps -a --format '{{.ID}} {{.Image}} {{.Status}}' | sort").stdout
    ids = sorted(line.split()[0] + " " + line.split()[1] for line in ps.splitlines())
    status = "cd /opt/mr-dj && docker-compose -p mr-dj exec -T mr-dj-backend npm run migrate:status"
    schema = host(config, status).stdout
    return ids, schema


class Decider:
    def __init__(self, choices=()):
        self.choices = list(choices)

    async def confirm(self, step, prompt):
        return True

    async def on_failure(self, step, failure):
        return self.choices.pop(0) if self.choices else Choice("abort")


def test_rollback_v2_to_v1_ends_healthy_on_v1_with_a_complete_journal(fresh_sandbox):
    result = cli(fresh_sandbox, "rollback", "--yes", "--json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "procedure_started" and events[0]["to_tag"] == "v1"
    assert events[-1] == {**events[-1], "event": "procedure_finished", "outcome": "succeeded"}
    assert health_versions() == {18081: "v1", 18082: "v1"}

    config = load_config(fresh_sandbox)
    journal = Journal(config.paths.state_dir / "incidents" / events[0]["incident_id"])
    records = list(journal.records())
    step_ids = [s.id for s in build_rollback_for(config).steps]
    finished = {r.step_id for r in records if r.kind == "step_finished"}
    # images on the host by their captured digest are not pulled again (images_available found them)
    skipped = {r.step_id for r in records if r.kind == "step_skipped"}
    assert all(s.startswith("pull_") for s in skipped), skipped
    assert set(step_ids) == finished | skipped, set(step_ids) ^ (finished | skipped)
    for r in records:
        if r.kind == "step_finished":
            assert (journal.directory / r.output).exists() and len(r.sha256) == 64
    decision = [r for r in records if r.kind == "migration_decision"][0]
    assert decision.action == "rolled_back" and decision.undone == ["002_add_booking_notes"]
    assert [r.action for r in records if r.kind == "lock"] == ["acquired", "released"]
    log = ReleaseLog.load(config.paths.release_log)
    assert log.deployed == "v1" and log.get("v2").is_bad
    entry = log.get("v1").incidents[-1]
    assert entry["id"] == journal.incident_id and entry["from"] == "v2" and entry["to"] == "v1"
    assert entry["hashes"]["v1-compose.tar.gz"] == log.get("v1").files["v1-compose.tar.gz"]
    assert entry["migration"]["action"] == "rolled_back"
    text = journal.path.read_text()
    assert "mrdj:" not in text and "DATABASE_URL=" not in text  # env values never journaled


def build_rollback_for(config):
    # the same procedure the CLI built, before the release log changed
    log = ReleaseLog.load(config.paths.release_log)
    from console.engine.rollback import rollback_procedure

    return rollback_procedure(config, log, "v2", "v1")


def test_dry_run_leaves_compose_state_identical(fresh_sandbox):
    config = load_config(fresh_sandbox)
    before = compose_state(config)
    result = cli(fresh_sandbox, "rollback", "--to", "v1", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "would run compose_down" in result.stdout
    assert (
        "docker-compose -p mr-dj -f /opt/mr-dj/docker-compose.yml --project-directory /opt/mr-dj down" in result.stdout
    )
    assert compose_state(config) == before
    assert health_versions() == {18081: "v2", 18082: "v2"}


def test_a_second_rollback_is_refused_while_the_lock_is_held(fresh_sandbox):
    config = load_config(fresh_sandbox)
    import shlex

    from console.commands.lock import acquire_lock, default_lock_dir

    lock_dir = default_lock_dir(config.target.project_dir)
    argv = acquire_lock(lock_dir, config.target.project_dir, "alice", "20261125-000000-beef", "2026-11-25T03:00:00Z")
    assert host(config, shlex.join(argv)).returncode == 0
    result = cli(fresh_sandbox, "rollback", "--yes")
    assert result.returncode == 1
    assert "locked by alice (incident 20261125-000000-beef) since 2026-11-25T03:00:00Z" in result.stdout
    assert host(config, f"test -d {lock_dir}").returncode == 0  # still theirs
    assert health_versions()[18081] == "v2"  # nothing was changed


def test_an_unsafe_tag_is_refused_before_any_command_runs(fresh_sandbox):
    config = load_config(fresh_sandbox)
    Path("/tmp/pwned").unlink(missing_ok=True)
    before = len(list_incidents(config.paths.state_dir))
    result = cli(fresh_sandbox, "rollback", "--to", "v1;touch /tmp/pwned", "--yes")
    assert result.returncode == 2
    assert "refusing release tag 'v1;touch /tmp/pwned'" in result.stderr
    assert not Path("/tmp/pwned").exists()
    assert host(config, "test -e /tmp/pwned").returncode != 0
    assert len(list_incidents(config.paths.state_dir)) == before


def test_an_unknown_host_key_is_refused_with_its_fingerprint(fresh_sandbox, tmp_path):
    text = Path(fresh_sandbox).read_text()
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    text = re.sub(r'known_hosts = ".*"', f'known_hosts = "{empty}"', text)
    config_path = tmp_path / "console.toml"
    config_path.write_text(text)
    result = cli(config_path, "rollback", "--yes")
    assert result.returncode == 1
    assert "SHA256:" in result.stderr
    assert health_versions()[18081] == "v2"


def test_a_hung_step_is_killed_at_its_timeout_and_leaves_no_process(sandbox_config_path):
    config = load_config(sandbox_config_path)
    marker = f"hang-{uuid.uuid4().hex[:8]}"

    async def scenario():
        transport = SSHTransport(config.target)
        await transport.connect()
        try:
            procedure = Procedure(
                "verify", [Step("hang", "Hang", argv=["sh", "-c", f"sleep 300; echo {marker}"], timeout=1.5)]
            )
            events = []
            run = IncidentRun(config, None, transport, Decider(), [events.append])
            outcome = await run.run(procedure)
            return outcome, events
        finally:
            await transport.close()

    outcome, events = asyncio.run(scenario())
    assert outcome == "failed"
    failed = [e for e in events if type(e).__name__ == "StepFailed"][0]
    assert failed.reason is FailureReason.STEP_TIMEOUT
    left = host(config, f"pgrep -af {marker} || true").stdout
    assert marker not in left.replace(f"pgrep -af {marker}", "")


def _kill_our_sshd_session(local_port: int) -> None:
    """Cut the link as a network failure would: kill the sshd processes serving our TCP connection."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :2222 and dport = :{local_port} )"],
        capture_output=True,
        text=True,
    ).stdout
    pids = set(re.findall(r"pid=(\d+)", out))
    assert pids, f"no sshd process found for port {local_port}: {out!r}"
    for pid in pids:
        subprocess.run(["kill", "-9", pid])


def test_connection_cut_mid_step_then_resume_finishes_the_rollback(fresh_sandbox, tmp_path):
    # A maintenance command that takes a few seconds, so the cut lands mid-step.
    text = (
        Path(fresh_sandbox)
        .read_text()
        .replace(
            'maintenance_on = ["npm", "run", "maintenance:on"]',
            'maintenance_on = ["sh", "-c", "sleep 4; npm run maintenance:on"]',
        )
    )
    config_path = tmp_path / "console.toml"
    config_path.write_text(text)
    config = load_config(config_path)

    async def first_attempt():
        transport = SSHTransport(config.target)
        await transport.connect()
        journal = open_new_incident(config, "v2")
        procedure = build_rollback(config, None)

        def on_event(event):
            if isinstance(event, StepStarted) and event.step_id == "maintenance_on":
                port = transport.connection.get_extra_info("sockname")[1]
                asyncio.get_running_loop().call_later(1.5, _kill_our_sshd_session, port)

        run = IncidentRun(config, journal, transport, Decider(), [on_event], assume_yes=True)
        try:
            return await run.run(procedure), journal
        finally:
            await transport.close()

    outcome, journal = asyncio.run(first_attempt())
    assert outcome == "failed"
    failed = [r for r in journal.records() if r.kind == "step_failed"][0]
    assert failed.step_id == "maintenance_on" and failed.reason == "outcome_unknown"

    procedure, done = rebuild_procedure(config, Journal(journal.directory))
    assert "maintenance_on" not in done
    result = cli(config_path, "resume", journal.incident_id, "--yes")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "host state before resuming" in result.stdout
    assert health_versions() == {18081: "v1", 18082: "v1"}
    records = [r for r in Journal(journal.directory).records() if r.kind != "notification"]
    assert records[-1].kind == "release_log" or records[-1].kind == "procedure_finished"
    assert any(r.kind == "procedure_finished" and r.outcome == "succeeded" for r in records)


def test_config_hotfix_sets_a_key_without_showing_it_and_undo_restores(fresh_sandbox):
    config = load_config(fresh_sandbox)
    env = sandbox_env()
    env["BOOKING_NOTES_ENABLED"] = "false"
    result = subprocess.run(
        [
            *CLI,
            "--config",
            str(fresh_sandbox),
            "config-hotfix",
            "--service",
            "mr-dj-backend",
            "--set",
            "BOOKING_NOTES_ENABLED",
            "--yes",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert health_versions() == {18081: "v2", 18082: "v2"}
    assert httpx.get("http://127.0.0.1:18081/api/health", trust_env=False).status_code == 200
    journal = max(
        (
            j
            for j in list_incidents(config.paths.state_dir)
            if j.state.started is not None and j.state.started.procedure == "config_hotfix"
        ),
        key=lambda j: j.incident_id,
    )
    text = journal.path.read_text() + "".join(p.read_text() for p in (journal.directory / "outputs").iterdir())
    assert "BOOKING_NOTES_ENABLED" in text and "=false" not in text
    keys = host(config, "sed 's/=.*//' /opt/mr-dj/backend/.env").stdout.split()
    assert "BOOKING_NOTES_ENABLED" in keys and "DATABASE_URL" in keys

    undo = cli(fresh_sandbox, "config-hotfix", "--service", "mr-dj-backend", "--undo", journal.incident_id, "--yes")
    # Undo brings the broken v2 configuration back, so its verification fails on health: by design.
    assert undo.returncode == 1, undo.stdout[-2000:]
    assert "restore_env" in undo.stdout
    assert httpx.get("http://127.0.0.1:18081/api/health", trust_env=False).status_code == 500
    keys = host(config, "sed 's/=.*//' /opt/mr-dj/backend/.env").stdout.split()
    assert "BOOKING_NOTES_ENABLED" not in keys


def test_a_headless_rollback_tells_slack_and_the_status_page(fresh_sandbox, tmp_path):
    from sandbox.mock_services import MockServices

    slack_token, api_key = "T0LEAD/B0LEAD/webhooksecret99", "sp-key-lead-secret-42"
    services = MockServices(api_key=api_key, slack_token=slack_token)
    services.start()
    try:
        # this test's own stand-in (its own secrets), in place of the sandbox's shared one
        data = tomllib.loads(Path(fresh_sandbox).read_text())
        data["notifications"] = {
            "slack": {"webhook_url": "env:SLACK_WEBHOOK_URL"},
            "statuspage": {
                "api_base": services.statuspage_api_base,
                "page_id": "mrdj",
                "api_key": "env:STATUSPAGE_API_KEY",
            },
        }
        config_path = tmp_path / "console.toml"
        config_path.write_text(tomli_w.dumps(data))
        env = sandbox_env()
        env.update(SLACK_WEBHOOK_URL=services.slack_url(slack_token), STATUSPAGE_API_KEY=api_key)
        result = subprocess.run(
            [*CLI, "--config", str(config_path), "rollback", "--yes", "--json"],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
            env=env,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        incident_id = json.loads(result.stdout.splitlines()[0])["incident_id"]
        slack = [r["body"]["text"] for r in services.requests if r["route"] == "slack" and r["status"] == 200]
        assert len(slack) == 3  # opened, procedure started, procedure finished
        assert all(incident_id in text for text in slack)
        assert "v2" in slack[1] and "v1" in slack[1]
        statuspage = [r for r in services.requests if r["route"] == "statuspage"]
        assert [r["method"] for r in statuspage] == ["POST", "PATCH", "PATCH"]
        assert all(r["authorized"] for r in statuspage)
        journal = Journal(load_config(config_path).paths.state_dir / "incidents" / incident_id)
        sent = [r for r in journal.records() if r.kind == "notification" and r.status == "sent"]
        assert len(sent) == 6
        text = journal.path.read_text()
        assert slack_token not in text and api_key not in text
    finally:
        services.stop()
