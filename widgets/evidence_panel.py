"""What changed between the deployed and the previous release, beside the decision tree.

The first question of the runbook's tree hinges on "within the last N minutes",
and the action matrix on whether the artifact (image or config) caused it; this
panel puts those facts in front of the coordinator. Env and compose changes are
shown by key only: values never reach the screen.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

CHANGE_MARKS = {"added": "+", "removed": "-", "changed": "~"}


def _short_digest(digest: str | None) -> str:
    if not digest:
        return "(none)"
    value = digest.split(":", 1)[-1]
    return value[:12]


def _image_fields(change: Any) -> tuple:
    if isinstance(change, tuple):
        return change
    return change.service, change.old_digest, change.new_digest


def _key_fields(change: Any) -> tuple:
    if isinstance(change, tuple):
        return change
    return change.file, change.key, change.change


class EvidencePanel(Widget):
    """Shows one ``console.decide.evidence.Evidence``; set ``evidence`` (or ``error``) from outside."""

    COMPONENT_CLASSES = {
        "evidence-panel--heading",
        "evidence-panel--muted",
        "evidence-panel--flag",
        "evidence-panel--ok",
        "evidence-panel--added",
        "evidence-panel--removed",
        "evidence-panel--changed",
    }

    DEFAULT_CSS = """
    EvidencePanel {
        height: auto;
        padding: 0 1;
        border: round $panel;
        border-title-color: $text-muted;
        & > .evidence-panel--heading { text-style: bold; color: $text; }
        & > .evidence-panel--muted { color: $text-muted; }
        & > .evidence-panel--flag { color: $warning; text-style: bold; }
        & > .evidence-panel--ok { color: $success; }
        & > .evidence-panel--added { color: $success; }
        & > .evidence-panel--removed { color: $error; }
        & > .evidence-panel--changed { color: $warning; }
    }
    """

    evidence: reactive[Any] = reactive(None, layout=True)
    error: reactive[str] = reactive("", layout=True)
    loading_text: reactive[str] = reactive("gathering evidence…", layout=True)

    def on_mount(self) -> None:
        self.border_title = "evidence"

    def render(self) -> Group:
        style = self.get_component_rich_style
        if self.error:
            return Group(Text(self.error, style("evidence-panel--flag")))
        ev = self.evidence
        if ev is None:
            return Group(Text(self.loading_text, style("evidence-panel--muted")))
        lines: list[Text] = []
        lines.append(
            Text.assemble(
                ("Deployed ", style("evidence-panel--muted")),
                (str(ev.deployed_tag or "?"), style("evidence-panel--heading")),
                ("  previous ", style("evidence-panel--muted")),
                str(ev.previous_tag or "(none)"),
            )
        )
        lines.extend(self._host_lines(ev))
        lines.extend(self._fleet_lines(ev))
        lines.append(self._age_line(ev))
        lines.append(
            self._section(
                "Images",
                [
                    Text.assemble(
                        ("~ ", style("evidence-panel--changed")),
                        f"{service} ",
                        (f"{_short_digest(old)} → {_short_digest(new)}", style("evidence-panel--muted")),
                    )
                    for service, old, new in map(_image_fields, ev.image_changes)
                ],
            )
        )
        lines.append(self._section("Compose", self._key_changes(ev.compose_changes)))
        lines.append(self._section("Env keys (values hidden)", self._key_changes(ev.env_changes)))
        lines.append(
            self._section(
                "Migrations added",
                [Text.assemble(("+ ", style("evidence-panel--added")), name) for name in ev.migrations_added],
            )
        )
        for problem in ev.errors:
            lines.append(Text(f"! {problem}", style("evidence-panel--flag")))
        return Group(*lines)

    def _host_lines(self, ev: Any) -> list[Text]:
        """What the host really runs (console.release.deployed), and each disagreement with the release log."""
        style = self.get_component_rich_style
        host = getattr(ev, "host", None)
        if host is None:
            return []
        if not host.services_read:
            return [
                Text(f"Host: not read ({'; '.join(host.errors) or 'unknown error'})", style("evidence-panel--muted"))
            ]
        runs = host.release or "no release the log knows"
        lines = [
            Text.assemble(
                ("Host runs ", style("evidence-panel--muted")),
                (
                    runs,
                    style("evidence-panel--ok" if host.release and not host.disagreements else "evidence-panel--flag"),
                ),
            )
        ]
        lines += [Text(f"≠ {line}", style("evidence-panel--flag")) for line in host.disagreements]
        return lines

    def _fleet_lines(self, ev: Any) -> list[Text]:
        """A fleet's hosts, one line each, and where they disagree (a half-rolled fleet) first."""
        style = self.get_component_rich_style
        fleet = getattr(ev, "fleet", None)
        if fleet is None:
            return []
        lines = [Text(f"≠ {line}", style("evidence-panel--flag")) for line in fleet.disagreements]
        for host in fleet.hosts:
            health = "" if host.healthy is None else (" · healthy" if host.healthy else " · UNHEALTHY")
            ok = host.read and host.release is not None and host.healthy is not False
            lines.append(
                Text.assemble(
                    (f"  {host.host} ", style("evidence-panel--muted")),
                    (f"runs {host.runs}{health}", style("evidence-panel--ok" if ok else "evidence-panel--flag")),
                )
            )
        return lines

    def _age_line(self, ev: Any) -> Text:
        style = self.get_component_rich_style
        minutes = ev.minutes_since_deploy
        if minutes is None:
            return Text("Deployed at: unknown", style("evidence-panel--muted"))
        age = f"deployed {minutes:.0f} min ago"
        if ev.within_impact_window:
            return Text(f"{age}: within the impact window → roll back first", style("evidence-panel--flag"))
        return Text(f"{age}: outside the impact window", style("evidence-panel--ok"))

    def _key_changes(self, changes: list) -> list[Text]:
        style = self.get_component_rich_style
        return [
            Text.assemble(
                (f"{CHANGE_MARKS.get(kind, '?')} ", style(f"evidence-panel--{kind}") if kind in CHANGE_MARKS else ""),
                f"{key} ",
                (f"({file})", style("evidence-panel--muted")),
            )
            for file, key, kind in map(_key_fields, changes)
        ]

    def _section(self, title: str, rows: list[Text]) -> Text:
        style = self.get_component_rich_style
        text = Text(title, style("evidence-panel--heading"))
        if not rows:
            text.append("  no change", style("evidence-panel--muted"))
        for row in rows:
            text.append("\n  ")
            text.append_text(row)
        return text
