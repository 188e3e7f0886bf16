"""The runbook's decision tree, one question at a time, with the evidence beside it.

Every answer, retracted answer (Back), matrix mark and the final outcome is
journaled with who and when, so the report can tell why the coordinator chose
what they chose, and a resumed decision starts where it was left.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from console.decide.runbook import Evaluation, Runbook
from console.incident.journal import Journal
from console.release.release_log import ReleaseLog
from screens.base import ConsoleScreen
from screens.modals import ChoiceDialog, ReasonDialog
from widgets.evidence_panel import EvidencePanel
from widgets.matrix_table import MatrixTable


class DecisionScreen(ConsoleScreen):
    SCREEN_TITLE = "Decide"

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="decision.yes"),
        Binding("n", "answer(False)", "No", id="decision.no"),
        Binding("b,backspace", "back", "Back", id="decision.back"),
        Binding("c", "accept", "Continue", id="decision.accept"),
        Binding("o", "override", "Override", id="decision.override"),
        Binding("e", "refresh_evidence", "Evidence", id="decision.evidence"),
        Binding("escape", "leave", "Home", id="decision.leave", show=False),
    ]
    BUTTON_ACTIONS = {
        "yes": "answer(True)",
        "no": "answer(False)",
        "back-q": "back",
        "back-o": "back",
        "accept": "accept",
        "override": "override",
    }

    class Decided(Message):
        """The coordinator settled on an outcome (journaled already)."""

        def __init__(self, outcome: str) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal
        self.answers: dict[str, bool] = {}
        self.evaluation: Evaluation | None = None

    @property
    def runbook(self):
        return self.console_app.runbook

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="decision-body", classes="split"):
            with VerticalScroll(id="decision-main", classes="split--main"):
                yield Static("", id="path")
                with Vertical(id="question-box"):
                    yield Static("", id="question-text")
                    yield Static("", id="question-why")
                    with Horizontal(classes="buttons"):
                        yield Button("Yes (y)", id="yes", variant="primary")
                        yield Button("No (n)", id="no")
                        yield Button("Back (b)", id="back-q")
                with Vertical(id="outcome-box"):
                    yield Static("", id="outcome-title")
                    yield Static("", id="outcome-summary")
                    yield MatrixTable(self.runbook.matrix, id="matrix")
                    yield Static("", id="matrix-verdict")
                    with Horizontal(classes="buttons"):
                        yield Button("Continue (c)", id="accept", variant="success")
                        yield Button("Override (o)", id="override", variant="warning")
                        yield Button("Back (b)", id="back-o")
            with VerticalScroll(id="decision-evidence", classes="split--side"):
                yield EvidencePanel(id="evidence")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.answers = _answers_from(self.journal)
        table = self.query_one(MatrixTable)
        for row_id in _marks_from(self.journal, self.runbook):
            table.set_marked(row_id, True, announce=False)  # already journaled: restore, do not re-record
        self.show()
        self.gather_evidence()

    # -- the tree ------------------------------------------------------------------

    def show(self) -> None:
        runbook = self.runbook
        ev = self.evaluation = runbook.evaluate(self.answers)
        path = [f"{i}. {runbook.questions[q].text} → {'yes' if a else 'no'}" for i, (q, a) in enumerate(ev.path, 1)]
        self.query_one("#path", Static).update("\n".join(path) or "No answers yet.")
        self.query_one("#path").border_title = "path so far"
        asking = ev.outcome is None
        self.query_one("#question-box").display = asking
        self.query_one("#outcome-box").display = not asking
        if asking:
            question = runbook.questions[ev.next_question]
            self.query_one("#question-text", Static).update(f"Q{len(ev.path) + 1}. {question.text}")
            self.query_one("#question-why", Static).update(f"Why: {question.why}")
            self.query_one("#yes", Button).focus()
        else:
            outcome = runbook.outcomes[ev.outcome]
            self.query_one("#outcome-title", Static).update(f"Outcome: {outcome.title}. {ev.note}")
            self.query_one("#outcome-summary", Static).update(outcome.summary)
            self.show_verdict()
            self.query_one(MatrixTable).focus()
        self.refresh_bindings()

    def show_verdict(self) -> None:
        if self.evaluation is None or self.evaluation.outcome is None:
            return
        marked = self.query_one(MatrixTable).marked
        agrees = self.runbook.matrix_agrees(self.evaluation.outcome, marked)
        recommended = self.runbook.matrix_recommendation(marked)
        verdict = self.query_one("#matrix-verdict", Static)
        verdict.set_class(agrees is True, "-agrees")
        verdict.set_class(agrees is False, "-disagrees")
        if agrees is None:
            verdict.update("Matrix: mark the conditions that hold (space); it does not decide yet.")
        elif agrees:
            verdict.update(f"Matrix agrees: the marked conditions favour {recommended}.")
        else:
            verdict.update(
                f"Matrix disagrees: the marked conditions favour {recommended}. Override (o) if you follow the matrix."
            )

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        decided = self.evaluation is not None and self.evaluation.outcome is not None
        if action == "answer":
            return not decided
        if action in ("accept", "override"):
            return decided
        if action == "back":
            return bool(self.evaluation and self.evaluation.path)
        return True

    def action_answer(self, answer: bool) -> None:
        ev = self.evaluation
        if ev is None or ev.next_question is None:
            return
        question = self.runbook.questions[ev.next_question]
        self.answers[question.id] = answer
        self.session.answer(question.id, question.text, answer)
        self.show()

    def action_back(self) -> None:
        if self.evaluation and self.evaluation.path:
            last, answer = self.evaluation.path[-1]
            del self.answers[last]
            # Journaled, or a resume would replay the answer the coordinator took back.
            self.session.retract(last, self.runbook.questions[last].text)
            self.show()

    def action_accept(self) -> None:
        if self.evaluation and self.evaluation.outcome:
            self.decide(self.evaluation.outcome, overridden=False, reason="")

    def action_override(self) -> None:
        ev = self.evaluation
        if ev is None or ev.outcome is None:
            return
        choices = [(o.id, o.title) for o in self.runbook.outcomes.values() if o.id != ev.outcome]

        def chosen(outcome: str | None) -> None:
            if outcome is None:
                return
            title = self.runbook.outcomes[outcome].title

            def reasoned(reason: str | None) -> None:
                if reason:
                    self.decide(outcome, overridden=True, reason=reason)

            self.app.push_screen(ReasonDialog(f"Why override the tree's outcome with {title}?"), reasoned)

        self.app.push_screen(ChoiceDialog("Override the outcome with:", choices), chosen)

    def decide(self, outcome: str, *, overridden: bool, reason: str) -> None:
        path = [{"question_id": q, "answer": a} for q, a in (self.evaluation.path if self.evaluation else [])]
        self.session.decide(
            outcome,
            path=path,
            overridden=overridden,
            reason=reason,
            tree_outcome=self.evaluation.outcome if self.evaluation else None,
            matrix_agrees=self.runbook.matrix_agrees(outcome, self.query_one(MatrixTable).marked),
        )
        self.post_message(self.Decided(outcome))

    def action_leave(self) -> None:
        self.console_app.go_home()

    @on(MatrixTable.Marked)
    def _marked(self, event: MatrixTable.Marked) -> None:
        self.session.mark(event.row.condition, event.row.id, event.row.favours, event.marked)
        self.show_verdict()

    # -- evidence --------------------------------------------------------------------

    def action_refresh_evidence(self) -> None:
        self.gather_evidence()

    @work(exclusive=True, group="evidence", exit_on_error=False)
    async def gather_evidence(self) -> None:
        panel = self.query_one(EvidencePanel)
        panel.error = ""
        from console.decide.evidence import gather_evidence

        config = self.console_app.config
        try:
            # Connecting is part of gathering: a host that refuses the key must show in the panel too.
            transport = await self.console_app.connected_transport()
            panel.evidence = await gather_evidence(
                config, transport, ReleaseLog.load(config.paths.release_log), now=self.console_app.clock()
            )
        except Exception as exc:
            panel.error = f"Could not gather evidence: {exc}"
            raise


def _answers_from(journal: Journal) -> dict[str, bool]:
    """A resumed decision starts from the answers already journaled (latest wins; Back retracts one)."""
    return dict(journal.state.answers)


def _marks_from(journal: Journal, runbook: Runbook) -> set[str]:
    """The matrix rows marked when the decision was left (the latest mark of each condition wins).

    Older records name the condition only by its text; a condition the runbook no longer has is dropped.
    """
    return journal.state.marked_conditions(
        {row.condition: row.id for row in runbook.matrix}, {row.id for row in runbook.matrix}
    )
