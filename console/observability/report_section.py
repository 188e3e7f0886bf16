"""The report's "Metrics and alerts" section, and its SVG charts, from the journal alone."""

from __future__ import annotations

import re
from pathlib import Path

from console.observability.charts import moments_from, sparkline, svg_chart

CHARTS_DIR = "charts"


def _latest_checks(records: list[dict]) -> dict[tuple[str, str], dict]:
    latest: dict[tuple[str, str], dict] = {}
    for record in records:
        if record.get("type") == "metrics_check":
            latest[(str(record.get("phase")), str(record.get("name")))] = record
    return latest


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _cell(value) -> str:
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def chart_name(phase: str, name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{phase}-{name}".lower()).strip("-") + ".svg"


def metrics_section(records: list[dict]) -> str:
    checks = _latest_checks(records)
    silences = [r for r in records if r.get("type") == "alert_silence"]
    if not checks and not silences:
        return ""
    lines = ["## Metrics and alerts"]
    if checks:
        rows = []
        for (phase, name), r in checks.items():
            verdict = str(r.get("verdict"))
            shown = f"**{verdict.upper()}**" if verdict == "fail" else verdict
            spark = sparkline([v for _, v in r.get("series") or []], 24)
            rows.append([_cell(name), phase, shown, _num(r.get("value")), _cell(r.get("comparison")),
                         _num(r.get("limit")), _num(r.get("baseline")), spark or "-",
                         f"`{_cell(r.get('query'))}`", _cell(r.get("detail") or "")])
        header = ["Check", "Phase", "Verdict", "Value", "Comparison", "Limit", "Baseline", "Trend", "Query", "Detail"]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines += ["", "Charts (deploy, rollback and hotfix marked): "
                  + ", ".join(f"[{name} ({phase})]({CHARTS_DIR}/{chart_name(phase, name)})"
                              for (phase, name) in checks)]
    if silences:
        lines += ["", "| Silence | Action | Matchers | Until | By | Alerts |", "|---|---|---|---|---|---|"]
        for r in silences:
            lines.append("| " + " | ".join([
                f"`{_cell(r.get('silence_id'))}`", _cell(r.get("action")), _cell(" ".join(r.get("matchers") or [])),
                _cell(r.get("ends_at")), _cell(r.get("created_by") or r.get("by")),
                _cell(", ".join(r.get("alerts") or []))]) + " |")
    return "\n".join(lines)


def write_charts(records: list[dict], report_path: Path) -> list[Path]:
    """One SVG per metrics check beside the report (``charts/``); nothing when there are no checks."""
    checks = _latest_checks(records)
    if not checks:
        return []
    directory = Path(report_path).parent / CHARTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    moments = moments_from(records)
    written = []
    for (phase, name), r in checks.items():
        points = [(float(t), float(v)) for t, v in r.get("series") or []]
        path = directory / chart_name(phase, name)
        path.write_text(svg_chart(f"{name} ({phase})", points, moments, r.get("limit")), encoding="utf-8")
        written.append(path)
    return written
