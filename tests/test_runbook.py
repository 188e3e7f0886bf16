import pytest

from console.decide.runbook import RunbookError, load_runbook, parse_runbook

RUNBOOK = load_runbook()


@pytest.mark.parametrize(
    "answers, outcome, path",
    [
        ({"customer_impact": True}, "rollback", [("customer_impact", True)]),
        (
            {"customer_impact": False, "config_mitigation": True},
            "config_hotfix",
            [("customer_impact", False), ("config_mitigation", True)],
        ),
        (
            {"customer_impact": False, "config_mitigation": False, "low_risk_patch": True},
            "code_hotfix",
            [("customer_impact", False), ("config_mitigation", False), ("low_risk_patch", True)],
        ),
        (
            {"customer_impact": False, "config_mitigation": False, "low_risk_patch": False},
            "rollback",
            [("customer_impact", False), ("config_mitigation", False), ("low_risk_patch", False)],
        ),
    ],
)
def test_every_path_of_the_seed_tree(answers, outcome, path):
    evaluation = RUNBOOK.evaluate(answers)
    assert evaluation.outcome == outcome
    assert evaluation.path == path
    assert evaluation.next_question is None


def test_unanswered_question_is_next():
    assert RUNBOOK.evaluate({}).next_question == "customer_impact"
    assert RUNBOOK.evaluate({"customer_impact": False}).next_question == "config_mitigation"


def test_answers_off_the_path_are_ignored():
    evaluation = RUNBOOK.evaluate({"customer_impact": True, "low_risk_patch": True})
    assert evaluation.outcome == "rollback"
    assert evaluation.path == [("customer_impact", True)]


def test_seed_wording_and_thresholds_filled_in():
    custom = load_runbook(thresholds={"impact_window_minutes": 45, "validation_window_minutes": 10})
    assert custom.questions["customer_impact"].text == (
        "Is production down or customer-impacting within the last 45 minutes?"
    )
    assert "within 10 minutes" in custom.questions["low_risk_patch"].text
    assert RUNBOOK.questions["config_mitigation"].text == (
        "Can the issue be mitigated by configuration or feature flag without code changes?"
    )


@pytest.mark.parametrize(
    "row, column",
    [
        ("artifact_caused", "rollback"),
        ("needs_code_change", "hotfix"),
        ("ttr_under_target", "rollback"),
        ("regression_in_prior", "hotfix"),
        ("infra_change", "rollback"),
    ],
)
def test_every_matrix_row_favours_the_seed_column(row, column):
    assert {r.id: r.favours for r in RUNBOOK.matrix}[row] == column
    assert RUNBOOK.matrix_recommendation({row}) == column


def test_matrix_tie_and_agreement():
    assert RUNBOOK.matrix_recommendation(set()) is None
    assert RUNBOOK.matrix_recommendation({"artifact_caused", "needs_code_change"}) is None
    assert RUNBOOK.matrix_agrees("rollback", {"artifact_caused", "infra_change"}) is True
    assert RUNBOOK.matrix_agrees("code_hotfix", {"artifact_caused"}) is False
    assert RUNBOOK.matrix_agrees("config_hotfix", {"needs_code_change"}) is True


def test_prerequisites_in_the_seed_groups():
    groups = RUNBOOK.prerequisite_groups()
    assert list(groups) == ["Backup validation", "Traffic switch planning", "Communication steps"]
    checks = {p.id: p.check for p in RUNBOOK.prerequisites}
    assert checks["backup_verified"] == "backup"
    assert checks["status_page_banner"] == "statuspage"
    assert checks["traffic_plan"] is None


def test_broken_runbook_references_are_refused():
    data = {
        "tree": {
            "start": "a",
            "questions": [{"id": "a", "text": "?", "yes": {"next": "missing"}, "no": {"outcome": "rollback"}}],
        },
        "outcomes": {"rollback": {"title": "R", "column": "rollback"}},
    }
    with pytest.raises(RunbookError, match="unknown question 'missing'"):
        parse_runbook(data)
