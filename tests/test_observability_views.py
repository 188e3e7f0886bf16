"""Charts (text and SVG), the report's metrics section, the metrics chart widget (Pilot), and the
checklist's fallback when Alertmanager cannot be reached."""

import asyncio
import dataclasses
import json

from textual.app import App, ComposeResult

from console.config import load_config
from console.incident.journal import Journal
from console.incident.records import AlertSilence
from console.incident.report import render_report
from console.observability.charts import Moment, moments_from, sparkline, svg_chart
from console.observability.live import ChartData
from console.observability.metrics_checks import MetricResult
from console.observability.report_section import metrics_section, write_charts
from console.observability.settings import AlertmanagerSettings
from console.observability.silences import acknowledge_alerts, active_silence, end_incident_silence
from console.observability.steps import metrics_answered
from tests.test_config import EXAMPLE
from widgets.metric_chart import MetricChart, marker_row, resample, two_rows

POINTS = [(1000.0 + 10 * i, 0.5 if i < 6 else 0.0) for i in range(12)]
MOMENTS = [Moment(1000.0, "deploy"), Moment(1060.0, "rollback")]


def test_sparkline_keeps_spikes_and_scales():
    assert sparkline([0, 0, 1, 0], 4) == "▁▁█▁"
    assert "█" in sparkline([0] * 50 + [9] + [0] * 49, 10)
    assert sparkline([]) == "" and sparkline([2, 2]) == "▁▁"


def test_svg_chart_marks_moments_and_the_limit():
    svg = svg_chart("backend <errors>", POINTS, MOMENTS, limit=0.01)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "backend &lt;errors&gt;" in svg and ">deploy<" in svg and ">rollback<" in svg
    assert "stroke-dasharray" in svg and "<polyline" in svg
    assert "no data" in svg_chart("x", [], [])


def test_text_chart_rows():
    columns = resample(POINTS, 1000, 1120, 12)
    assert columns[0] == 0.5 and columns[-1] == 0.0
    upper, lower = two_rows(columns, 0.5)
    assert upper[0] == "█" and lower[0] == "█" and lower[-1] == " "
    assert marker_row(MOMENTS, 1000, 1120, 12) == "D     R     "


def metric_record(**extra):
    return {
        "type": "metrics_check",
        "seq": 5,
        "ts": "2026-11-29T12:10:00Z",
        "phase": "verification",
        "name": "backend error ratio",
        "query": "sum(rate(x[15s]))",
        "comparison": "<= 0.01",
        "verdict": "pass",
        "value": 0.0,
        "limit": 0.01,
        "baseline": None,
        "detail": "",
        "deployed_at": "2026-11-29T12:00:00Z",
        "series": [[t, v] for t, v in POINTS],
        **extra,
    }


def test_report_has_the_numbers_the_silence_and_chart_links(tmp_path):
    records = [
        {"type": "incident_opened", "seq": 1, "ts": "2026-11-29T12:01:00Z", "operator": "oncall"},
        {"type": "procedure_started", "seq": 2, "ts": "2026-11-29T12:05:00Z", "procedure": "rollback"},
        {
            "type": "alert_silence",
            "seq": 3,
            "ts": "2026-11-29T12:02:00Z",
            "action": "created",
            "silence_id": "abc-1",
            "matchers": ['env="production"'],
            "ends_at": "2026-11-29T13:02:00.000Z",
            "created_by": "oncall",
            "alerts": ["HighErrorRate (mr-dj-backend)"],
        },
        metric_record(),
    ]
    text = render_report(records)
    section = metrics_section(records)
    assert section in text
    assert "| backend error ratio | verification | pass | 0 | <= 0.01 | 0.01 |" in section
    assert "`sum(rate(x[15s]))`" in section and "`abc-1`" in section and "HighErrorRate (mr-dj-backend)" in section
    written = write_charts(records, tmp_path / "report.md")
    assert [p.name for p in written] == ["verification-backend-error-ratio.svg"]
    assert ">rollback<" in written[0].read_text() and ">deploy<" in written[0].read_text()
    assert [m.label for m in moments_from(records)] == ["deploy", "rollback"]
    assert metrics_section([{"type": "note", "seq": 1}]) == ""


def test_dashboard_tick_is_replaced_only_when_prometheus_answered():
    def step(*verdicts):
        return [
            {
                "type": "step_finished",
                "step_id": "verify_metrics",
                "detail": {"metrics": [{"verdict": v} for v in verdicts]},
            }
        ]

    assert metrics_answered(step("pass", "fail"))
    assert not metrics_answered(step("pass", "unknown"))
    assert not metrics_answered([])


def _with_alertmanager(tmp_path, url="http://127.0.0.1:9"):
    config = load_config(EXAMPLE)
    return dataclasses.replace(
        config,
        observability=dataclasses.replace(config.observability, alertmanager=AlertmanagerSettings(url=url, timeout=1)),
    )


def test_unreachable_alertmanager_falls_back_to_the_manual_tick(tmp_path):
    config = _with_alertmanager(tmp_path)
    journal = Journal.create(tmp_path)
    result = asyncio.run(acknowledge_alerts(config, journal, "oncall"))
    assert (result.status, result.how) == ("pending", "manual")
    assert "unreachable" in result.detail and "by hand" in result.detail and "127.0.0.1" not in result.detail
    assert active_silence(journal) is None


def test_a_silence_that_cannot_be_expired_stays_active_and_keep_is_recorded(tmp_path):
    config = _with_alertmanager(tmp_path)
    journal = Journal.create(tmp_path)
    journal.append(AlertSilence(action="created", silence_id="abc-1", ends_at="2026-11-29T13:00:00Z"))
    action, message = asyncio.run(end_incident_silence(config, journal, "oncall"))
    assert action == "failed" and "by hand" in message and active_silence(journal).silence_id == "abc-1"
    action, _ = asyncio.run(end_incident_silence(config, journal, "oncall", keep=True))
    assert action == "kept" and active_silence(journal) is None


class ChartApp(App):
    def compose(self) -> ComposeResult:
        yield MetricChart("backend error ratio", id="chart")


async def test_metric_chart_widget_draws_value_verdict_bars_and_moments():
    app = ChartApp()
    async with app.run_test(size=(40, 6)) as pilot:
        chart = app.query_one(MetricChart)
        assert "waiting for Prometheus" in str(chart.render())
        result = MetricResult("backend error ratio", "q", "<= 0.01", "fail", value=0.5, limit=0.01)
        chart.data = ChartData("backend error ratio", "<= 0.01", POINTS, MOMENTS, 0.01, result)
        await pilot.pause()
        lines = str(chart.render()).splitlines()
        assert lines[0].startswith("backend error ratio  0.5 <= 0.01  FAIL")
        assert "█" in lines[1] and lines[3].startswith("D") and "R" in lines[3]
        assert chart.verdict == "fail"
        chart.data = ChartData("backend error ratio", "<= 0.01", [], [], None, None, "Prometheus is unreachable")
        await pilot.pause()
        assert "unreachable" in str(chart.render()) and "no data" in str(chart.render())


def test_alerts_command_needs_alertmanager_and_says_when_it_is_unreachable(tmp_path, capsys):
    from console.cli.main import main

    assert main(["--config", str(EXAMPLE), "alerts"]) == 2
    assert "no [alertmanager] url" in capsys.readouterr().err
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.read_text() + '\n[alertmanager]\nurl = "http://127.0.0.1:9"\ntimeout = 1\n')
    assert main(["--config", str(path), "alerts", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["alerts"] == [] and "unreachable" in body["error"] and body["silence"] is None
    assert main(["--config", str(path), "alerts", "--silence", "--incident", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
