"""The time-to-recover clock: how long the incident has been open, against the target.

The runbook's action matrix weighs a "time-to-recover target < 15 min"; the
coordinator should see at a glance how much of it is left. The clock turns to
warning when most of the target is spent and to error once it is passed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

# Past this share of the target the clock warns: enough time left to change course.
WARNING_FRACTION = 0.75


def utc_now() -> datetime:
    return datetime.now(UTC)


def ttr_level(elapsed_seconds: float, target_minutes: float) -> str:
    """``ok`` | ``warning`` | ``over`` for an elapsed time against the target."""
    target = target_minutes * 60
    if elapsed_seconds > target:
        return "over"
    if elapsed_seconds >= target * WARNING_FRACTION:
        return "warning"
    return "ok"


class TTRClock(Widget):
    """``TTR 12m 34s / 15m``; hidden until an incident is open (``opened_at`` set). Stopped at
    ``recovered_seconds`` once the incident recovered (``TTR 4m 10s / 15m recovered``): the
    follow-up that comes after is not time to recover, and the report says the same figure."""

    COMPONENT_CLASSES = {"ttr-clock--label", "ttr-clock--time", "ttr-clock--target"}

    DEFAULT_CSS = """
    TTRClock {
        width: auto;
        height: 1;
        padding: 0 1;
        background: $success-muted;
        color: $text;
        &.-idle { display: none; }
        &.-warning { background: $warning-muted; }
        &.-over { background: $error; text-style: bold; }
        & > .ttr-clock--label { text-style: bold; }
        & > .ttr-clock--time { text-style: bold; }
        & > .ttr-clock--target { color: $text-muted; }
    }
    """

    opened_at: reactive[datetime | None] = reactive(None)
    recovered_seconds: reactive[float | None] = reactive(None)
    target_minutes: reactive[float] = reactive(15.0)
    level: reactive[str] = reactive("idle")

    def __init__(
        self,
        *,
        now: Callable[[], datetime] = utc_now,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._now = now

    def on_mount(self) -> None:
        self.tick()
        self.set_interval(1.0, self.tick)

    @property
    def elapsed_seconds(self) -> float:
        if self.opened_at is None:
            return 0.0
        if self.recovered_seconds is not None:
            return self.recovered_seconds
        return max(0.0, (self._now() - self.opened_at).total_seconds())

    def tick(self) -> None:
        self.level = "idle" if self.opened_at is None else ttr_level(self.elapsed_seconds, self.target_minutes)
        self.refresh()

    def watch_opened_at(self) -> None:
        self.tick()

    def watch_target_minutes(self) -> None:
        self.tick()

    def watch_recovered_seconds(self) -> None:
        self.tick()

    def watch_level(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")

    def render(self) -> Text:
        style = self.get_component_rich_style
        from console.notify.messages import format_duration  # the clock is idle on home: not at start-up

        text = Text()
        text.append("TTR ", style("ttr-clock--label"))
        text.append(format_duration(self.elapsed_seconds), style("ttr-clock--time"))
        text.append(f" / {self.target_minutes:g}m", style("ttr-clock--target"))
        if self.level == "over":
            text.append(" OVER", style("ttr-clock--time"))
        if self.recovered_seconds is not None:
            text.append(" recovered", style("ttr-clock--target"))
        return text
