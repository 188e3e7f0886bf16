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
from typing import TYPE_CHECKING, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.engine.events import StepFailed
from console.engine.procedure import Step
from console.engine.runner import Choice

if TYPE_CHECKING:
    from textual.app import App

class StepConfirmDialog(ModalScreen[bool]):
    """Before a destructive step: y runs it, n / Escape stops the procedure (it stays resumable)."""

    AUTO_FOCUS = None   # a stray Enter must never run a destructive step: only y does

    BINDINGS = [
        Binding("y", "answer(True)", "Run it", id="step-confirm.yes"),
        Binding("n,escape", "answer(False)", "Stop here", id="step-confirm.no"),
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

    def __init__(self, step: Step, prompt: str) -> None:
        super().__init__()
        self.step = step
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"⚠ {self.step.title}", classes="dialog--title")
            yield Static("This changes the host. The console will run:", markup=False)
            yield Static(self.step.command, classes="dialog--command", markup=False)
            yield Static("y runs it · n stops the procedure here (it can be resumed)", markup=False)
            with Horizontal():
                yield Button("Stop (n)", id="confirm-no", variant="default")
                yield Button("Run it (y)", id="confirm-yes", variant="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


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
            yield Static(f"{f.reason.label}: {f.message}", markup=False)
            if self.step.command:
                yield Static(self.step.command, classes="dialog--command", markup=False)
            yield Static("r retries · s skips it (you give the reason) · a aborts · "
                         "Escape closes this to read the output first", markup=False)
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


class SkipReasonDialog(ModalScreen[str | None]):
    """Skipping is recorded with why; an empty reason is not accepted."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="skip-reason.cancel")]
    DEFAULT_CSS = """
    SkipReasonDialog {
        align: center middle;
        & > Vertical { width: 76; max-width: 95%; height: auto;
                       border: thick $warning; background: $surface; padding: 1 2; }
        & .dialog--title { text-style: bold; margin-bottom: 1; }
        & .dialog--error { color: $error; }
    }
    """

    def __init__(self, step: Step) -> None:
        super().__init__()
        self.step = step

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Skip {self.step.title}: why?", classes="dialog--title")
            yield Input(placeholder="the reason goes into the incident journal", id="skip-reason")
            yield Static("", id="skip-reason-error", classes="dialog--error")
            yield Static("Enter records the skip · Escape goes back", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        reason = event.value.strip()
        if not reason:
            self.query_one("#skip-reason-error", Static).update("A skip needs a reason.")
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


class YesNoDialog(ModalScreen[bool]):
    """A plain question; y / n (Escape is no)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="yes-no.yes"),
        Binding("n,escape", "answer(False)", "No", id="yes-no.no"),
    ]
    DEFAULT_CSS = """
    YesNoDialog {
        align: center middle;
        & > Vertical { width: 70; max-width: 95%; height: auto;
                       border: thick $warning; background: $surface; padding: 1 2; }
        & .dialog--title { text-style: bold; margin-bottom: 1; }
        & Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
        & Button { margin-left: 1; }
    }
    """

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, classes="dialog--title")
            if self.detail:
                yield Static(self.detail, markup=False)
            with Horizontal():
                yield Button("No (n)", id="answer-no")
                yield Button("Yes (y)", id="answer-yes", variant="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "answer-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ScreenDecider:
    """Implements console.engine.runner.Decider with modal dialogs on ``app``.

    ``on_change`` is called whenever a decision starts or ends, so the screen can
    show or hide its "decision needed" bar and refresh its bindings.
    """

    def __init__(self, app: "App | None", on_change: Callable[[], None] = lambda: None) -> None:
        self.app = app   # set when the screen that owns it is mounted
        self.on_change = on_change
        self.pending_step: Step | None = None
        self.pending_failure: StepFailed | None = None
        self._choice: asyncio.Future[Choice] | None = None
        self._dialog_open = False

    # -- the Decider protocol ------------------------------------------------------------

    async def confirm(self, step: Step, prompt: str) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def settle(value: bool | None) -> None:
            if not answer.done():
                answer.set_result(bool(value))

        self.app.push_screen(StepConfirmDialog(step, prompt), settle)
        try:
            return await answer
        except asyncio.CancelledError:
            self._close_dialog(StepConfirmDialog)
            raise

    async def on_failure(self, step: Step, failure: StepFailed) -> Choice:
        self.pending_step, self.pending_failure = step, failure
        self._choice = asyncio.get_running_loop().create_future()
        self.on_change()
        self.offer_choices()
        try:
            return await self._choice
        except asyncio.CancelledError:
            for dialog in (FailureDialog, SkipReasonDialog):
                self._close_dialog(dialog)
            raise
        finally:
            self.pending_step = self.pending_failure = None
            self._choice = None
            self._dialog_open = False
            self.on_change()

    # -- what the screen drives ----------------------------------------------------------

    @property
    def awaiting_failure_choice(self) -> bool:
        return self._choice is not None and not self._choice.done()

    def offer_choices(self) -> None:
        """(Re)open the retry / skip / abort dialog for the pending failure."""
        if not self.awaiting_failure_choice or self._dialog_open:
            return
        assert self.pending_step is not None and self.pending_failure is not None
        self._dialog_open = True

        def chosen(action: str | None) -> None:
            self._dialog_open = False
            if action:
                self.choose(action)

        self.app.push_screen(FailureDialog(self.pending_step, self.pending_failure), chosen)

    def choose(self, action: str) -> None:
        """retry / abort settle at once; skip first asks for the reason."""
        if not self.awaiting_failure_choice:
            return
        if action == "skip":
            self.ask_skip_reason()
        elif action in ("retry", "abort"):
            self._settle(Choice(action))

    def ask_skip_reason(self) -> None:
        if not self.awaiting_failure_choice or self._dialog_open:
            return
        assert self.pending_step is not None
        self._dialog_open = True

        def reason_given(reason: str | None) -> None:
            self._dialog_open = False
            if reason:
                self._settle(Choice("skip", reason))
            else:
                self.offer_choices()   # back to the three choices, nothing decided yet

        self.app.push_screen(SkipReasonDialog(self.pending_step), reason_given)

    def _settle(self, choice: Choice) -> None:
        if self._choice is not None and not self._choice.done():
            self._choice.set_result(choice)

    def _close_dialog(self, kind: type) -> None:
        """The engine stopped waiting (quit): take its dialog off the screen stack."""
        for screen in list(self.app.screen_stack):
            if isinstance(screen, kind):
                if screen is self.app.screen:
                    screen.dismiss(None)
                else:
                    self.app.call_later(lambda s=screen: s.is_attached and s.dismiss(None))
