"""The TUI's Decider: where the engine stops for a person, the screen shows a dialog.

The engine awaits :meth:`ScreenDecider.confirm` / :meth:`ScreenDecider.on_failure`
inside its worker; each pushes a modal with a callback that resolves an
``asyncio.Future`` the engine is awaiting (the worker runs on the app's loop, so
no thread hop is needed). A failure decision outlives its dialog: Escape closes
the dialog to let the operator read the output and logs first, and the screen's
retry / skip / abort bindings settle the same pending decision later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, Static

from console.engine.events import StepFailed
from console.engine.procedure import Step
from console.engine.runner import Choice
from console.safetext import plain_text
from screens.modals import ReasonDialog

if TYPE_CHECKING:
    from textual.app import App


class StepConfirmDialog(ModalScreen[bool | str]):
    """Before a destructive step: y runs it, n / Escape stops the procedure (it stays resumable);
    for a step the runbook marks optional, s skips it (dismissed with "skip", a reason follows)."""

    AUTO_FOCUS = None  # a stray Enter must never run a destructive step: only y does

    BINDINGS = [
        Binding("y", "answer(True)", "Run it", id="step-confirm.yes"),
        Binding("n,escape", "answer(False)", "Stop here", id="step-confirm.no"),
        Binding("s", "skip", "Skip…", id="step-confirm.skip"),
    ]
    DEFAULT_CSS = """
    StepConfirmDialog {
        align: center middle;
        & > Vertical { width: 80; max-width: 95%; height: auto; max-height: 90%;
                       border: thick $warning; background: $surface; padding: 1 2; }
        & .dialog--title { text-style: bold; margin-bottom: 1; }
        & .dialog--command { background: $boost; padding: 0 1; margin-bottom: 1; }
        & Horizontal { height: auto; align-horizontal: right; }
        & Button { margin-left: 1; }
    }
    """

    def __init__(self, step: Step, prompt: str, *, optional: bool = False) -> None:
        super().__init__()
        self.step = step
        self.prompt = prompt
        self.optional = optional

    def compose(self) -> ComposeResult:
        # What the engine worked out for this step (e.g. the migrations it undoes, the runbook's
        # reason it is optional) follows the command line in the prompt.
        details = self.prompt.split("\n", 2)[2] if self.prompt.count("\n") >= 2 else ""
        with Vertical():
            yield Label(f"⚠ {self.step.title}", classes="dialog--title")
            yield Static("This changes the host. The console will run:", markup=False)
            yield Static(self.step.command, classes="dialog--command", markup=False)
            if details:
                yield Static(details, id="confirm-details", markup=False)
            skip = " · s skips it (you give the reason)" if self.optional else ""
            yield Static(f"y runs it{skip} · n stops the procedure here (it can be resumed)", markup=False)
            with Horizontal():
                yield Button("Stop (n)", id="confirm-no", variant="default")
                if self.optional:
                    yield Button("Skip… (s)", id="confirm-skip", variant="primary")
                yield Button("Run it (y)", id="confirm-yes", variant="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm-skip":
            self.dismiss("skip")
        else:
            self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def action_skip(self) -> None:
        if self.optional:
            self.dismiss("skip")


class FailureDialog(ModalScreen[str | None]):
    """After a failed step: retry, skip (a reason follows) or abort; Escape decides later."""

    BINDINGS = [
        Binding("r", "choose('retry')", "Retry", id="failure.retry"),
        Binding("s", "choose('skip')", "Skip…", id="failure.skip"),
        Binding("a", "choose('abort')", "Abort", id="failure.abort"),
        Binding("escape", "choose('')", "Decide later", id="failure.later"),
    ]
    DEFAULT_CSS = """
    FailureDialog {
        align: center middle;
        & > Vertical { width: 80; max-width: 95%; height: auto; max-height: 90%;
                       border: thick $error; background: $surface; padding: 1 2; }
        & .dialog--title { text-style: bold; color: $error; margin-bottom: 1; }
        & .dialog--command { background: $boost; padding: 0 1; margin-bottom: 1; }
        & Horizontal { height: auto; align-horizontal: right; }
        & Button { margin-left: 1; }
    }
    """

    def __init__(self, step: Step, failure: StepFailed) -> None:
        super().__init__()
        self.step = step
        self.failure = failure

    def compose(self) -> ComposeResult:
        f = self.failure
        code = "" if f.exit_code is None else f" (exit {f.exit_code})"
        with Vertical():
            yield Label(f"✗ {self.step.title} failed{code}", classes="dialog--title")
            yield Static(plain_text(f"{f.reason_label}: {f.message}"), markup=False)  # may quote host output
            if self.step.command:
                yield Static(self.step.command, classes="dialog--command", markup=False)
            yield Static(
                "r retries · s skips it (you give the reason) · a aborts · Escape closes this to read the output first",
                markup=False,
            )
            with Horizontal():
                yield Button("Abort (a)", id="failure-abort", variant="error")
                yield Button("Skip… (s)", id="failure-skip", variant="warning")
                yield Button("Retry (r)", id="failure-retry", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#failure-retry", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss((event.button.id or "").removeprefix("failure-"))

    def action_choose(self, action: str) -> None:
        self.dismiss(action or None)


class ScreenDecider:
    """Implements console.engine.runner.Decider with modal dialogs on ``app``.

    ``on_change`` is called whenever a decision starts or ends, so the screen can
    show or hide its "decision needed" bar and refresh its bindings.
    """

    def __init__(self, app: App | None, on_change: Callable[[], None] = lambda: None) -> None:
        self.app = app  # set when the screen that owns it is mounted
        self.on_change = on_change
        self.pending_step: Step | None = None
        self.pending_failure: StepFailed | None = None
        self._choice: asyncio.Future[Choice] | None = None
        self._dialog: Screen | None = None  # the failure or skip-reason dialog now on the stack

    @property
    def _host(self) -> App:
        """The app the dialogs go on; the owning screen sets it when mounted."""
        if self.app is None:
            raise RuntimeError("ScreenDecider has no app yet: its screen is not mounted")
        return self.app

    # -- the Decider protocol ------------------------------------------------------------

    async def confirm(self, step: Step, prompt: str) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def settle(value: bool | str | None) -> None:
            if not answer.done():
                answer.set_result(bool(value))

        dialog = StepConfirmDialog(step, prompt)
        self._host.push_screen(dialog, settle)
        try:
            return await answer
        except asyncio.CancelledError:
            self._close_dialog(dialog)
            raise

    async def confirm_optional(self, step: Step, prompt: str) -> Choice:
        """A step the runbook marks optional: run, skip with a reason (asked next), or stop."""
        answer: asyncio.Future[Choice] = asyncio.get_running_loop().create_future()
        dialogs: list[Screen] = []

        def settle(choice: Choice) -> None:
            if not answer.done():
                answer.set_result(choice)

        def confirmed(value: bool | str | None) -> None:
            if value == "skip":
                ask_reason()
            else:
                settle(Choice("run" if value is True else "abort"))

        def ask_reason() -> None:
            def reason_given(reason: str | None) -> None:
                if reason:
                    settle(Choice("skip", reason))
                else:
                    open_confirmation()  # Escape: back to the question, nothing decided yet

            dialogs.append(
                ReasonDialog(
                    f"Skip {step.title}: why?", placeholder="the reason goes into the incident journal and the report"
                )
            )
            self._host.push_screen(dialogs[-1], reason_given)

        def open_confirmation() -> None:
            dialogs.append(StepConfirmDialog(step, prompt, optional=True))
            self._host.push_screen(dialogs[-1], confirmed)

        open_confirmation()
        try:
            return await answer
        except asyncio.CancelledError:
            self._close_dialog(dialogs[-1])
            raise

    async def on_failure(self, step: Step, failure: StepFailed) -> Choice:
        self.pending_step, self.pending_failure = step, failure
        self._choice = asyncio.get_running_loop().create_future()
        self.on_change()
        self.offer_choices()
        try:
            return await self._choice
        except asyncio.CancelledError:
            if self._dialog is not None:
                self._close_dialog(self._dialog)
            raise
        finally:
            self.pending_step = self.pending_failure = None
            self._choice = None
            self._dialog = None
            self.on_change()

    # -- what the screen drives ----------------------------------------------------------

    @property
    def awaiting_failure_choice(self) -> bool:
        return self._choice is not None and not self._choice.done()

    def offer_choices(self) -> None:
        """(Re)open the retry / skip / abort dialog for the pending failure."""
        if not self.awaiting_failure_choice or self._dialog is not None:
            return
        assert self.pending_step is not None and self.pending_failure is not None

        def chosen(action: str | None) -> None:
            self._dialog = None
            if action:
                self.choose(action)

        self._dialog = FailureDialog(self.pending_step, self.pending_failure)
        self._host.push_screen(self._dialog, chosen)

    def choose(self, action: str) -> None:
        """retry / abort settle at once; skip first asks for the reason."""
        if not self.awaiting_failure_choice:
            return
        if action == "skip":
            self.ask_skip_reason()
        elif action in ("retry", "abort"):
            self._settle(Choice(action))

    def ask_skip_reason(self) -> None:
        if not self.awaiting_failure_choice or self._dialog is not None:
            return
        assert self.pending_step is not None

        def reason_given(reason: str | None) -> None:
            self._dialog = None
            if reason:
                self._settle(Choice("skip", reason))
            else:
                self.offer_choices()  # back to the three choices, nothing decided yet

        # Skipping is recorded with why; ReasonDialog refuses an empty reason, Escape goes back.
        self._dialog = ReasonDialog(
            f"Skip {self.pending_step.title}: why?", placeholder="the reason goes into the incident journal"
        )
        self._host.push_screen(self._dialog, reason_given)

    def _settle(self, choice: Choice) -> None:
        if self._choice is not None and not self._choice.done():
            self._choice.set_result(choice)

    def _close_dialog(self, dialog: Screen) -> None:
        """The engine stopped waiting (quit): take its dialog off the screen stack."""
        if dialog not in self._host.screen_stack:
            return
        if dialog is self._host.screen:
            dialog.dismiss(None)
        else:
            self._host.call_later(lambda: dialog.is_attached and dialog.dismiss(None))
