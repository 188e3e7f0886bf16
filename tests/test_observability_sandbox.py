"""Prometheus and Alertmanager for real (the sandbox's Debian packages): v2's errors fire an alert,
the checklist silences it, resolve expires the silence; the error-rate check fails on v2 and passes
after a rollback to v1; the hotfix monitor catches a regression injected during its window."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from console.config import load_config
from console.decide.runbook import load_runbook
from console.engine.context import StepContext
from console.engine.hotfix import monitor_health
from console.engine.incident import open_new_incident
from console.incident.journal import Journal
from console.incident.prerequisites import Checklist
from console.observability.silences import end_incident_silence
from console.observability.steps import verify_metrics
from tests.test_engine_sandbox import cli

pytestmark = pytest.mark.sandbox
AM = "http://127.0.0.1:19093"


def am_get(path, **params):
    return httpx.get(AM + path, params=params, timeout=5, trust_env=False).json()


def firing_backend_alerts():
    alerts = am_get(
        "/api/v2/alerts",
        active="true",
        silenced="false",
        inhibited="false",
        filter=['env="production"', 'service="mr-dj-backend"'],
    )
    return [a for a in alerts if a["labels"]["alertname"] == "HighErrorRate"]


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def test_v2_fires_an_alert_the_checklist_silences_it_and_resolve_expires_it(fresh_sandbox):
    config = load_config(fresh_sandbox)
    wait_for(firing_backend_alerts, 90, "HighErrorRate for the v2 backend in Alertmanager")
    listed = cli(fresh_sandbox, "alerts", "--json")
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert any(a["name"] == "HighErrorRate" and a["labels"]["service"] == "mr-dj-backend" for a in body["alerts"])
    assert body["matchers"] == ['service=~"mr-dj-backend|mr-dj-frontend"', 'env="production"']

    journal = open_new_incident(config, "v2")
    checklist = Checklist(load_runbook(), journal, config.operator)
    changed = asyncio.run(checklist.run_auto_checks(config))
    state = changed["alerts_acknowledged"]
    assert state.status == "done", state.detail
    created = journal.state.silences
    assert [r.action for r in created] == ["created"] and "HighErrorRate (mr-dj-backend)" in created[0].alerts
    silence_id = created[0].silence_id
    assert silence_id in state.detail

    silence = am_get(f"/api/v2/silence/{silence_id}")
    assert silence["status"]["state"] == "active"
    assert silence["createdBy"] == config.operator and journal.incident_id in silence["comment"]
    assert {m["name"] for m in silence["matchers"]} == {"service", "env"}
    assert firing_backend_alerts() == []  # silenced: no duplicate paging
    again = asyncio.run(checklist.run_auto_checks(config))  # re-running creates no second silence
    assert "alerts_acknowledged" not in again
    headless = cli(fresh_sandbox, "alerts", "--json", "--silence", "--incident", journal.incident_id)
    assert headless.returncode == 0, headless.stderr
    assert json.loads(headless.stdout)["silence"]["silence_id"] == silence_id  # the incident's one silence
    assert len(Journal(journal.directory).state.silences) == 1

    action, message = asyncio.run(end_incident_silence(config, Journal(journal.directory), "sandbox"))
    assert action == "expired", message
    assert am_get(f"/api/v2/silence/{silence_id}")["status"]["state"] == "expired"
    wait_for(firing_backend_alerts, 30, "the alert paging again once the silence expired")


def _ctx(config, journal=None):
    return StepContext(config=config, transport=None, journal=journal, operator=config.operator)


def _short(config, window_minutes):
    metrics = [dataclasses.replace(m, window_minutes=window_minutes) for m in config.observability.metrics]
    return dataclasses.replace(config, observability=dataclasses.replace(config.observability, metrics=metrics))


def backend_error_ratio(config):
    query = [m.query for m in config.observability.metrics if m.name == "backend error ratio"][0]
    body = httpx.get(
        config.observability.prometheus.url + "/api/v1/query", params={"query": query}, timeout=5, trust_env=False
    ).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_error_rate_check_fails_with_v2_left_in_place(sandbox_config_path, tmp_path):
    config = _short(load_config(sandbox_config_path), 0.5)
    # v2 just (re)deployed by a reset: its containers' errors need a few scrapes to show in a rate
    wait_for(lambda: (backend_error_ratio(config) or 0) > 0.1, 60, "v2's errors in Prometheus")
    journal = Journal.create(tmp_path)
    result = asyncio.run(verify_metrics(_ctx(config, journal), "v1"))
    assert not result.ok and "regression" in result.message
    by_name = {m["name"]: m for m in result.detail["metrics"]}
    assert by_name["backend error ratio"]["verdict"] == "fail" and by_name["backend error ratio"]["value"] > 0.1
    assert by_name["frontend error ratio"]["verdict"] == "pass"
    recorded = list(journal.state.metrics_checks.values())
    assert {r.name for r in recorded} == {"backend error ratio", "frontend error ratio"}
    assert all(r.query and r.phase == "verification" and r.series for r in recorded)


def test_hotfix_monitor_fails_when_a_regression_is_injected_during_its_window(sandbox_config_path):
    config = load_config(sandbox_config_path)
    frontend = [m for m in config.observability.metrics if m.name == "frontend error ratio"]
    config = dataclasses.replace(
        config,
        health=[h for h in config.health if h.name == "frontend"],
        observability=dataclasses.replace(
            config.observability, metrics=[dataclasses.replace(m, window_minutes=0.25) for m in frontend]
        ),
    )
    fault = Path(config.target.project_dir) / "state" / "fault.frontend"
    timer = threading.Timer(8, fault.touch)  # a regression the health checks do not see
    timer.start()
    try:
        result = asyncio.run(monitor_health(_ctx(config), None, 0.75))
    finally:
        timer.cancel()
        fault.unlink(missing_ok=True)
    assert not result.ok, result.message
    assert result.detail["failed_rounds"] == 0  # health stayed green: the metrics caught it
    assert result.detail["metrics"][0]["verdict"] == "fail"
    assert "regression" in result.message


def test_after_a_rollback_to_v1_the_error_rate_check_passes_and_verify_json_shows_it(fresh_sandbox):
    result = cli(fresh_sandbox, "rollback", "--yes", "--json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    finished = [e for e in events if e["event"] == "step_finished" and e["step_id"] == "verify_metrics"]
    assert finished and {m["verdict"] for m in finished[0]["detail"]["metrics"]} == {"pass"}

    verify = cli(fresh_sandbox, "verify", "--json")
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]
    events = [json.loads(line) for line in verify.stdout.splitlines()]
    checks = [e for e in events if e["event"] == "step_finished" and e["step_id"] == "verify_metrics"][0]
    for check in checks["detail"]["metrics"]:
        assert "app_http_requests_total" in check["query"]
        assert check["verdict"] == "pass" and check["value"] <= 0.01

    incident_id = json.loads(result.stdout.splitlines()[0])["incident_id"]
    report = cli(fresh_sandbox, "report", incident_id)
    assert "## Metrics and alerts" in report.stdout and "backend error ratio" in report.stdout
