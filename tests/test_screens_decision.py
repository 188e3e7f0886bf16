"""Pilot tests of the decision tree: every path by keys, back, matrix marks, override with a reason."""

from __future__ import annotations

import pytest

from console.failures import AuthenticationFailed
from console.incident.journal import Journal
from screens.app import make_app
from screens.checklist import ChecklistScreen
from screens.decision import DecisionScreen, _answers_from
from screens.home import HomeScreen
from screens.modals import ChoiceDialog, ReasonDialog
from tests._screens_support import HostStandIn, fixed_clock, keep_notifications, make_config, records, wait_for
from widgets.evidence_panel import EvidencePanel
from widgets.matrix_table import MatrixTable
from widgets.ttr_clock import TTRClock

PATHS = [
    ("y", "rollback", [("customer_impact", True)]),
    ("ny", "config_hotfix", [("customer_impact", False), ("config_mitigation", True)]),
    ("nny", "code_hotfix", [("customer_impact", False), ("config_mitigation", False), ("low_risk_patch", True)]),
    ("nnn", "rollback", [("customer_impact", False), ("config_mitigation", False), ("low_risk_patch", False)]),
]


async def start(pilot, app) -> DecisionScreen:
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, DecisionScreen), what="the decision screen")
    return app.screen


async def leave_and_resume(pilot, app, left: DecisionScreen) -> DecisionScreen:
    """Escape to the home screen, then resume the incident (the only one listed)."""
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="the home screen")
    await pilot.press("r")
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, DecisionScreen) and app.screen is not left,
        what="the resumed decision screen",
    )
    await pilot.pause()
    return app.screen


class RefusingHost(HostStandIn):
    """A host the console cannot log in to (the key is unreadable)."""

    async def connect(self) -> None:
        raise AuthenticationFailed("identity file /keys/no-key cannot be read")


@pytest.mark.asyncio
@pytest.mark.parametrize("keys, outcome, path", PATHS)
async def test_every_path_by_keys_reaches_its_outcome_and_is_journaled(tmp_path, keys, outcome, path):
    config = make_config(tmp_path)
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    decided = {}  # a bubbling message is seen at each node it passes: keep each once
    async with app.run_test(
        size=(80, 24),
        message_hook=lambda m: isinstance(m, DecisionScreen.Decided) and decided.setdefault(id(m), m.outcome),
    ) as pilot:
        screen = await start(pilot, app)
        for key in keys:
            await pilot.press(key)
        assert screen.evaluation.outcome == outcome
        assert screen.query_one("#outcome-box").display
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChecklistScreen), what="the checklist")
        assert list(decided.values()) == [outcome]
        journal = app.journal
        assert [(d.question_id, d.answer) for d in records(journal, "decision")] == path
        assert all(d.by == config.operator and d.ts for d in records(journal, "decision"))
        final = records(journal, "outcome")
        assert len(final) == 1 and final[0].outcome == outcome and final[0].overridden is False
        assert final[0].path == [{"question_id": q, "answer": a} for q, a in path]


@pytest.mark.asyncio
async def test_back_changes_an_answer_and_the_path_follows(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, app)
        await pilot.press("n", "n")
        assert screen.evaluation.next_question == "low_risk_patch"
        await pilot.press("backspace")
        assert screen.evaluation.next_question == "config_mitigation"
        await pilot.press("b")
        assert screen.evaluation.next_question == "customer_impact"
        await pilot.press("y")
        assert screen.evaluation.outcome == "rollback"
        assert "→ yes" in str(screen.query_one("#path").render())
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChecklistScreen), what="the checklist")
        answers = [(d.question_id, d.answer) for d in records(app.journal, "decision")]
        assert answers == [("customer_impact", False), ("config_mitigation", False), ("customer_impact", True)]
        assert records(app.journal, "outcome")[0].path == [{"question_id": "customer_impact", "answer": True}]


@pytest.mark.asyncio
async def test_answer_keys_do_nothing_once_an_outcome_is_reached(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, app)
        await pilot.press("y", "n", "y")
        assert screen.evaluation.outcome == "rollback"
        assert len(records(app.journal, "decision")) == 1


@pytest.mark.asyncio
async def test_matrix_marks_are_journaled_and_say_whether_the_matrix_agrees(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, app)
        await pilot.press("y")  # rollback
        table = screen.query_one(MatrixTable)
        assert table.has_focus
        verdict = screen.query_one("#matrix-verdict")
        assert "does not decide" in str(verdict.render())
        await pilot.press("space")  # artifact_caused favours rollback
        assert table.marked == {"artifact_caused"}
        assert verdict.has_class("-agrees")
        await pilot.press("down", "space", "down", "down", "space")  # two hotfix rows
        assert table.marked == {"artifact_caused", "needs_code_change", "regression_in_prior"}
        assert verdict.has_class("-disagrees") and "hotfix" in str(verdict.render())
        await pilot.press("space")  # unmark regression_in_prior: a tie decides nothing
        assert not verdict.has_class("-agrees") and not verdict.has_class("-disagrees")
        marks = records(app.journal, "matrix_mark")
        assert [(m.column, m.marked) for m in marks] == [
            ("rollback", True),
            ("hotfix", True),
            ("hotfix", True),
            ("hotfix", False),
        ]
        assert marks[0].condition == "Issue caused by deployment artifact (image/config)"
        assert all(m.by == "oncall" for m in marks)


@pytest.mark.asyncio
async def test_override_needs_a_written_reason(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await pilot.press("y", "o")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")  # the first other outcome: configuration hotfix
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("enter")  # empty: refused
        assert isinstance(app.screen, ReasonDialog)
        assert "required" in str(app.screen.query_one("#reason-error").render())
        assert records(app.journal, "outcome") == []
        await pilot.press("escape")  # cancelling records nothing
        assert isinstance(app.screen, DecisionScreen)
        assert records(app.journal, "outcome") == []
        await pilot.press("o", "enter")
        await pilot.press(*"flag off fixes it")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChecklistScreen), what="the checklist")
        outcome = records(app.journal, "outcome")[0]
        assert outcome.outcome == "config_hotfix" and outcome.overridden is True
        assert outcome.reason == "flag off fixes it" and outcome.tree_outcome == "rollback"
        assert app.screen.outcome == "config_hotfix"


@pytest.mark.asyncio
async def test_evidence_panel_shows_the_release_log_facts_and_host_errors(tmp_path):
    host = HostStandIn()
    app = make_app(make_config(tmp_path), transport=host, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app)
        panel = screen.query_one(EvidencePanel)
        await wait_for(pilot, lambda: panel.evidence is not None or panel.error, what="evidence")
        evidence = panel.evidence
        assert (evidence.deployed_tag, evidence.previous_tag) == ("v2", "v1")
        assert evidence.within_impact_window is True and round(evidence.minutes_since_deploy) == 12
        assert [c.service for c in evidence.image_changes] == ["mr-dj-backend"]
        assert evidence.errors  # the stand-in host has no bundles to compare
        text = "\n".join(panel.render_line(y).text for y in range(panel.size.height))
        assert "12 min ago" in text and "mr-dj-backend" in text
        assert host.connected
        assert screen.query_one(TTRClock).opened_at is not None


@pytest.mark.asyncio
async def test_evidence_that_cannot_reach_the_host_says_why_in_the_panel_and_a_notification(tmp_path):
    notices: list = []
    app = make_app(make_config(tmp_path), transport=RefusingHost(), clock=fixed_clock)
    async with app.run_test(size=(80, 24), message_hook=keep_notifications(notices)) as pilot:
        screen = await start(pilot, app)
        panel = screen.query_one(EvidencePanel)
        await wait_for(pilot, lambda: panel.error, what="the evidence error")
        assert panel.error == "Could not gather evidence: identity file /keys/no-key cannot be read"
        await wait_for(pilot, lambda: any(n.severity == "error" for n in notices), what="the error notification")
        failed = [n for n in notices if n.severity == "error"]
        assert len(failed) == 1
        assert "gather_evidence" in failed[0].title
        assert failed[0].message == "AuthenticationFailed: identity file /keys/no-key cannot be read"


@pytest.mark.asyncio
async def test_matrix_marks_come_back_when_the_decision_is_resumed(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, app)
        await pilot.press("y", "space", "down", "down", "space")  # artifact_caused, ttr_under_target
        await pilot.press("down", "space", "space")  # regression_in_prior marked, then not
        assert screen.query_one(MatrixTable).marked == {"artifact_caused", "ttr_under_target"}
        journaled = len(records(app.journal, "matrix_mark"))

        screen = await leave_and_resume(pilot, app, screen)
        table = screen.query_one(MatrixTable)
        assert table.marked == {"artifact_caused", "ttr_under_target"}
        assert table.get_cell("artifact_caused", "mark").plain == "✓"
        assert table.get_cell("regression_in_prior", "mark") == ""
        verdict = screen.query_one("#matrix-verdict")
        assert verdict.has_class("-agrees") and "favour rollback" in str(verdict.render())
        assert len(records(app.journal, "matrix_mark")) == journaled  # restoring journals nothing
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChecklistScreen), what="the checklist")
        assert records(app.journal, "outcome")[0].matrix_agrees is True


@pytest.mark.asyncio
async def test_back_is_journaled_and_a_retracted_answer_stays_retracted_after_resuming(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, app)
        await pilot.press("n", "y")
        assert screen.evaluation.outcome == "config_hotfix"
        await pilot.press("b")  # "config can mitigate it" was wrong
        assert screen.evaluation.next_question == "config_mitigation"
        retracted = records(app.journal, "decision_retracted")
        assert [(r.question_id, r.by) for r in retracted] == [("config_mitigation", "oncall")]
        assert retracted[0].ts and retracted[0].question

        screen = await leave_and_resume(pilot, app, screen)
        assert screen.evaluation.outcome is None
        assert screen.evaluation.next_question == "config_mitigation"
        assert screen.evaluation.path == [("customer_impact", False)]
        await pilot.press("b")
        screen = await leave_and_resume(pilot, app, screen)
        assert screen.evaluation.path == [] and screen.evaluation.next_question == "customer_impact"


def test_answers_replay_the_journal_with_retractions_and_later_answers(tmp_path):
    journal = Journal.create(tmp_path)
    journal.record("decision", question_id="customer_impact", question="?", answer=False, by="oncall")
    journal.record("decision", question_id="config_mitigation", question="?", answer=True, by="oncall")
    journal.record("decision_retracted", question_id="config_mitigation", question="?", by="oncall")
    assert _answers_from(journal) == {"customer_impact": False}
    journal.record("decision", question_id="config_mitigation", question="?", answer=False, by="oncall")
    assert _answers_from(journal) == {"customer_impact": False, "config_mitigation": False}
