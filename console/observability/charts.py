"""Metric series as pictures without a plotting library: a text sparkline and a small SVG chart,
with the deploy, rollback and hotfix moments marked. Pure functions over numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

BARS = "▁▂▃▄▅▆▇█"
MOMENT_PROCEDURES = {"rollback": "rollback", "code_hotfix": "hotfix", "config_hotfix": "hotfix"}


@dataclass(frozen=True)
class Moment:
    at: float  # unix seconds
    label: str  # deploy | rollback | hotfix


def _ts(text) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def incident_state(incident):
    """A journal's ``IncidentState`` as given, or one folded from records (typed or parsed lines)."""
    from console.incident.state import IncidentState

    if isinstance(incident, IncidentState):
        return incident
    return IncidentState.fold(incident)


def moments_from(incident, deployed_at: str | None = None) -> list[Moment]:
    """The bad deploy (from the release log, else a metrics record) and every rollback/hotfix start.
    ``incident``: a journal's ``state`` (or its records)."""
    state = incident_state(incident)
    found = []
    deploy = _ts(deployed_at)
    if deploy is None:
        deploy = _ts(state.deployed_at)
    for start in state.own_starts:  # dry runs and verify are not the incident's own procedure
        label = MOMENT_PROCEDURES.get(start.procedure)
        at = _ts(start.ts)
        if label and at is not None:
            found.append(Moment(at, label))
    if deploy is not None:
        found.append(Moment(deploy, "deploy"))
    return sorted(found, key=lambda m: m.at)


def sparkline(values: list[float], width: int = 40) -> str:
    """``▁▂▅█``: the values resampled to ``width`` columns, scaled between their min and max."""
    values = [v for v in values if not math.isnan(v) and not math.isinf(v)]
    if not values:
        return ""
    if len(values) > width:  # keep the worst value of each bucket: a spike must not vanish
        size = len(values) / width
        values = [max(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]) for i in range(width)]
    low, high = min(values), max(values)
    span = high - low
    return "".join(
        BARS[0] if span == 0 else BARS[min(len(BARS) - 1, int((v - low) / span * (len(BARS) - 1) + 0.5))]
        for v in values
    )


def svg_chart(
    title: str,
    points: list[tuple[float, float]],
    moments: Sequence[Moment] = (),
    limit: float | None = None,
    width: int = 480,
    height: int = 140,
) -> str:
    """A small self-contained SVG line chart; moments are vertical lines, the limit a dashed one."""
    pad_l, pad_r, pad_t, pad_b = 46, 10, 22, 20
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    points = [(t, v) for t, v in points if not math.isnan(v) and not math.isinf(v)]
    times = [t for t, _ in points] + [m.at for m in moments]
    values = [v for _, v in points] + ([limit] if limit is not None else [])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="10">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{pad_l}" y="14" font-size="12">{escape(title)}</text>',
    ]
    if not points:
        out += [f'<text x="{pad_l}" y="{pad_t + h / 2}">no data</text>', "</svg>"]
        return "\n".join(out) + "\n"
    t0, t1 = min(times), max(times)
    v0, v1 = min(0.0, min(values)), max(values)
    t1 = t1 if t1 > t0 else t0 + 1
    v1 = v1 if v1 > v0 else v0 + 1

    def x(t: float) -> float:
        return pad_l + (t - t0) / (t1 - t0) * w

    def y(v: float) -> float:
        return pad_t + h - (v - v0) / (v1 - v0) * h

    out.append(f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" stroke="#999"/>')
    out.append(f'<text x="2" y="{pad_t + 4}">{v1:.3g}</text><text x="2" y="{pad_t + h}">{v0:.3g}</text>')
    if limit is not None:
        out.append(
            f'<line x1="{pad_l}" y1="{y(limit):.1f}" x2="{pad_l + w}" y2="{y(limit):.1f}" '
            f'stroke="#c00" stroke-dasharray="4 3"/>'
        )
    for m in moments:
        colour = {"deploy": "#d80", "rollback": "#06c", "hotfix": "#090"}.get(m.label, "#666")
        out.append(
            f'<line x1="{x(m.at):.1f}" y1="{pad_t}" x2="{x(m.at):.1f}" y2="{pad_t + h}" stroke="{colour}"/>'
            f'<text x="{x(m.at) + 2:.1f}" y="{pad_t + 9}" fill="{colour}">{escape(m.label)}</text>'
        )
    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    out.append(f'<polyline points="{path}" fill="none" stroke="#222" stroke-width="1.5"/>')
    start = datetime.fromtimestamp(t0, UTC).strftime("%H:%M")
    end = datetime.fromtimestamp(t1, UTC).strftime("%H:%M")
    out.append(
        f'<text x="{pad_l}" y="{height - 5}">{start} UTC</text>'
        f'<text x="{pad_l + w - 60}" y="{height - 5}">{end} UTC</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
