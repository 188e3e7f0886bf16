"""The report of a fleet incident: the rollout's outline, where each host stands, one timeline
per host (steps grouped by the host in their ids). A single host's report is unchanged."""

from __future__ import annotations

from console.incident.fleet_report import fleet_hosts_in, fleet_section, host_timeline
from console.incident.records import as_record
from console.incident.report import render_report
from console.incident.state import IncidentState

_seq = iter(range(1, 1000))


def line(type_: str, second: int, **fields) -> dict:
    return {"seq": next(_seq), "ts": f"2026-11-29T10:00:{second:02d}.000000Z", "type": type_, **fields}


def half_rolled() -> list[dict]:
    """Canary web2 rolled back to v1; the batch (web3, web1) stopped at web3's failure."""
    return [
        line(
            "incident_opened",
            0,
            incident_id="i-f",
            operator="oncall",
            target="fleet",
            project="mr-dj",
            deployed="v2",
            ttr_target_minutes=15,
        ),
        line("procedure_started", 1, procedure="rollback", incident_id="i-f", from_tag="v2", to_tag="v1", steps=[]),
        line("fleet_wave", 1, wave="preflight", index=0, hosts=["web1", "web2", "web3"], status="passed", message=""),
        line("fleet_host", 1, host="web1", state="preflight_ok", release="v2"),
        line("fleet_host", 1, host="web2", state="preflight_ok", release="v2"),
        line("fleet_host", 1, host="web3", state="preflight_ok", release="v2"),
        line("fleet_wave", 2, wave="lock", index=0, hosts=["web1", "web2", "web3"], status="passed", message=""),
        line("fleet_wave", 3, wave="canary", index=0, hosts=["web2"], status="started", message=""),
        line("fleet_host", 3, host="web2", state="running", release="v2", step_id="web2:compose_down"),
        line("step_started", 3, step_id="web2:compose_down", title="Stop", command="docker compose down", host="web2"),
        line("step_finished", 5, step_id="web2:compose_down", exit_code=0, duration=2.0),
        line("step_started", 5, step_id="web2:compose_up", title="Start", command="docker compose up -d", host="web2"),
        line("step_finished", 9, step_id="web2:compose_up", exit_code=0, duration=4.0),
        line("health", 10, check="backend", ok=True, status=200, version="v1", on="web2"),
        line("health", 11, check="backend", ok=True, status=200, version="v1", on="web2"),
        line("fleet_host", 11, host="web2", state="done", release="v1", step_id="web2:compose_up"),
        line("fleet_wave", 11, wave="canary", index=0, hosts=["web2"], status="passed", message=""),
        line("fleet_wave", 12, wave="gate", index=0, hosts=["web2"], status="passed", message="healthy for 30 s"),
        line("fleet_wave", 13, wave="batch", index=1, hosts=["web3", "web1"], status="started", message=""),
        line(
            "artifact", 13, tag="v1", file="v1-compose.tar.gz", sha256="a" * 64, verified=True, source="host", on="web3"
        ),
        line("step_started", 14, step_id="web3:compose_down", title="Stop", command="docker compose down", host="web3"),
        line(
            "step_failed",
            15,
            step_id="web3:compose_down",
            reason="non_zero_exit",
            message="exit 1",
            exit_code=1,
            duration=1.0,
        ),
        line(
            "fleet_host",
            15,
            host="web3",
            state="failed",
            release="v2",
            step_id="web3:compose_down",
            message="compose down failed",
        ),
        line("fleet_host", 15, host="web1", state="not_started", release="v2"),
        line(
            "fleet_wave",
            15,
            wave="batch",
            index=1,
            hosts=["web3", "web1"],
            status="failed",
            message="web3 failed; web1 left as it was",
        ),
        line(
            "procedure_finished", 16, procedure="rollback", outcome="failed", duration=15.0, from_tag="v2", to_tag="v1"
        ),
    ]


def state() -> IncidentState:
    return IncidentState.fold([as_record(r) for r in half_rolled()])


def test_hosts_come_in_rollout_order_canary_first():
    assert fleet_hosts_in(state()) == ["web2", "web3", "web1"]


def test_the_section_outlines_the_rollout_and_says_where_each_host_stands():
    text = fleet_section(state())
    assert text.startswith("## Fleet (3 hosts)")
    assert "| 10:00:03 | canary | web2 | started | — |" in text
    assert "| 10:00:15 | batch 1 | web3, web1 | failed | web3 failed; web1 left as it was |" in text
    assert "| web2 | done | v1 | compose_up | — |" in text
    assert "| web3 | **failed** | v2 | compose_down | compose down failed |" in text
    assert "| web1 | not started (left as it was) | v2 | — | — |" in text
    assert text.index("### Timeline of web2") < text.index("### Timeline of web3") < text.index("### Timeline of web1")


def test_each_host_has_its_own_timeline_of_steps_health_and_artifacts():
    web2 = host_timeline(state(), "web2")
    assert "| 10:00:03 | compose_down | done (exit 0) | 2.0 s |" in web2
    assert "| 10:00:05 | compose_up | done (exit 0) | 4.0 s |" in web2
    assert web2.count("backend: healthy (200, version v1)") == 1  # repeated polls are one change
    assert "web3" not in web2 and "compose down failed" not in web2
    web3 = host_timeline(state(), "web3")
    assert "| 10:00:14 | compose_down | failed: non zero exit — exit 1 | 1.0 s |" in web3
    assert "v1-compose.tar.gz (v1) verified" in web3
    assert "state | failed, runs v2: compose down failed" in web3
    web1 = host_timeline(state(), "web1")
    assert "compose_" not in web1 and "not started, runs v2" in web1


def test_the_whole_report_carries_the_fleet_section_and_names_the_fleet_records():
    report = render_report(half_rolled())
    assert "## Fleet (3 hosts)" in report
    assert report.index("## Timeline") < report.index("## Fleet") < report.index("## Decision path")
    assert "Fleet batch 1 (web3, web1) failed: web3 failed; web1 left as it was" in report
    assert "Host web3: failed, runs v2: compose down failed" in report


def test_a_single_hosts_incident_has_no_fleet_section():
    single = [r for r in half_rolled() if r["type"] not in ("fleet_wave", "fleet_host")]
    for r in single:
        if "step_id" in r:
            r["step_id"] = r["step_id"].split(":", 1)[1]
        if r.get("on", "").startswith("web"):
            r["on"] = "target"
    assert fleet_section(IncidentState.fold([as_record(r) for r in single])) == ""
    assert "## Fleet" not in render_report(single)


def test_the_last_health_table_keeps_each_hosts_checks_apart():
    records = half_rolled() + [line("health", 20, check="backend", ok=False, status=503, on="web3")]
    report = render_report(records)
    section = report[report.index("## Health (last check)") :]
    assert "| backend (web2) | healthy | 200 |" in section
    assert "| backend (web3) | **unhealthy** | 503 |" in section
