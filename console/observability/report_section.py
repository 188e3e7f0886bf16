"""The report's "Metrics and alerts" section, and its SVG charts, from the journal alone."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from console.incident.state import IncidentState
from console.observability.charts import incident_state, moments_from, sparkline, svg_chart

CHARTS_DIR = "charts"


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _cell(value) -> str:
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def chart_name(phase: str, name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{phase}-{name}".lower()).strip("-") + ".svg"


def metrics_section(incident: IncidentState | Iterable) -> str:
    """``incident``: a journal's ``state`` (or its records)."""
    state = incident_state(incident)
    checks, silences = state.metrics_checks, state.silences
    if not checks and not silences:
        return ""
    lines = ["## Metrics and alerts"]
    if checks:
        rows = []
        for (phase, name), r in checks.items():
            verdict = str(r.verdict)
            shown = f"**{verdict.upper()}**" if verdict == "fail" else verdict
            spark = sparkline([v for _, v in r.series or []], 24)
            rows.append(
                [
                    _cell(name),
                    phase,
                    shown,
                    _num(r.value),
                    _cell(r.comparison),
                    _num(r.limit),
                    _num(r.baseline),
                    spark or "-",
                    f"`{_cell(r.query)}`",
                    _cell(r.detail or ""),
                ]
            )
        header = ["Check", "Phase", "Verdict", "Value", "Comparison", "Limit", "Baseline", "Trend", "Query", "Detail"]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines += [
            "",
            "Charts (deploy, rollback and hotfix marked): "
            + ", ".join(f"[{name} ({phase})]({CHARTS_DIR}/{chart_name(phase, name)})" for (phase, name) in checks),
        ]
    if silences:
        lines += ["", "| Silence | Action | Matchers | Until | By | Alerts |", "|---|---|---|---|---|---|"]
        for r in silences:
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{_cell(r.silence_id)}`",
                        _cell(r.action),
                        _cell(" ".join(r.matchers or [])),
                        _cell(r.ends_at),
                        _cell(r.created_by or r.by),
                        _cell(", ".join(r.alerts or [])),
                    ]
                )
                + " |"
            )
    return "\n".join(lines)


def write_charts(incident: IncidentState | Iterable, report_path: Path) -> list[Path]:
    """One SVG per metrics check beside the report (``charts/``); nothing when there are no checks."""
    state = incident_state(incident)
    checks = state.metrics_checks
    if not checks:
        return []
    directory = Path(report_path).parent / CHARTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    moments = moments_from(state)
    written = []
    for (phase, name), r in checks.items():
        points = [(float(t), float(v)) for t, v in r.series or []]
        path = directory / chart_name(phase, name)
        path.write_text(svg_chart(f"{name} ({phase})", points, moments, r.limit), encoding="utf-8")
        written.append(path)
    return written
