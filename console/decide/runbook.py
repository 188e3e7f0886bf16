"""The runbook model: decision tree, action matrix, prerequisites, checks, as data.

The shipped runbook (console/data/runbook.toml) follows the seed document; a
user may point ``[paths] runbook`` at their own file with the same shape.
Evaluating the tree is a pure function from answers to outcome plus the path.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

OUTCOMES = ("rollback", "config_hotfix", "code_hotfix")
COLUMNS = ("rollback", "hotfix")


class RunbookError(ValueError):
    """The runbook file is malformed."""


@dataclass(frozen=True)
class Branch:
    next: str | None = None
    outcome: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    why: str
    yes: Branch
    no: Branch

    def branch(self, answer: bool) -> Branch:
        return self.yes if answer else self.no


@dataclass(frozen=True)
class Outcome:
    id: str
    title: str
    column: str
    summary: str


@dataclass(frozen=True)
class MatrixRow:
    id: str
    condition: str
    favours: str


@dataclass(frozen=True)
class PrerequisiteCheck:
    id: str
    group: str
    title: str
    check: str | None = None  # backup | slack | statuspage | alerts | coordinator | None (manual)
    required: bool = True


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    title: str


@dataclass(frozen=True)
class Evaluation:
    """Where the answers so far lead: an outcome, or the next question."""

    path: list[tuple[str, bool]]
    outcome: str | None
    note: str
    next_question: str | None


@dataclass(frozen=True)
class Runbook:
    title: str
    start: str
    questions: dict[str, Question]
    outcomes: dict[str, Outcome]
    matrix: list[MatrixRow]
    prerequisites: list[PrerequisiteCheck]
    manual_verification: list[ChecklistItem] = field(default_factory=list)
    follow_up: list[ChecklistItem] = field(default_factory=list)
    # procedure step id -> the runbook's words for why it is optional (skippable at its confirmation)
    optional_steps: dict[str, str] = field(default_factory=dict)

    def evaluate(self, answers: dict[str, bool]) -> Evaluation:
        """Follow the tree from the start using ``answers``; stop at the first unanswered question.

        Answers to questions off the path taken are ignored (a changed earlier answer can
        make later ones irrelevant).
        """
        path: list[tuple[str, bool]] = []
        current = self.start
        seen: set[str] = set()
        while True:
            if current in seen:
                raise RunbookError(f"decision tree loops at {current!r}")
            seen.add(current)
            if current not in answers:
                return Evaluation(path, None, "", current)
            answer = bool(answers[current])
            path.append((current, answer))
            branch = self.questions[current].branch(answer)
            if branch.outcome:
                return Evaluation(path, branch.outcome, branch.note, None)
            current = branch.next  # type: ignore[assignment]

    def matrix_recommendation(self, marked: set[str]) -> str | None:
        """The column most marked conditions favour, or None on a tie or no marks."""
        counts = {column: 0 for column in COLUMNS}
        for row in self.matrix:
            if row.id in marked:
                counts[row.favours] += 1
        if counts["rollback"] == counts["hotfix"]:
            return None
        return max(counts, key=counts.__getitem__)

    def matrix_agrees(self, outcome: str, marked: set[str]) -> bool | None:
        """Whether the marked conditions support ``outcome`` (None when they do not decide)."""
        recommended = self.matrix_recommendation(marked)
        if recommended is None:
            return None
        return self.outcomes[outcome].column == recommended

    def prerequisite_groups(self) -> dict[str, list[PrerequisiteCheck]]:
        groups: dict[str, list[PrerequisiteCheck]] = {}
        for item in self.prerequisites:
            groups.setdefault(item.group, []).append(item)
        return groups


def _branch(raw: object, where: str) -> Branch:
    if not isinstance(raw, dict):
        raise RunbookError(f"{where} must be a table with next or outcome")
    branch = Branch(next=raw.get("next"), outcome=raw.get("outcome"), note=raw.get("note", ""))
    if (branch.next is None) == (branch.outcome is None):
        raise RunbookError(f"{where} needs exactly one of next or outcome")
    return branch


def parse_runbook(data: dict, thresholds: dict[str, float] | None = None) -> Runbook:
    fill = {k: _fmt_number(v) for k, v in (thresholds or {}).items()}
    fill.setdefault("impact_window_minutes", "30")
    fill.setdefault("validation_window_minutes", "15")
    try:
        tree = data["tree"]
        questions = {}
        for q in tree["questions"]:
            questions[q["id"]] = Question(
                id=q["id"],
                text=q["text"].format(**fill),
                why=q.get("why", ""),
                yes=_branch(q.get("yes"), f"tree.questions.{q['id']}.yes"),
                no=_branch(q.get("no"), f"tree.questions.{q['id']}.no"),
            )
        outcomes = {
            k: Outcome(id=k, title=v["title"], column=v["column"], summary=v.get("summary", ""))
            for k, v in data["outcomes"].items()
        }
        matrix = [MatrixRow(id=m["id"], condition=m["condition"], favours=m["favours"]) for m in data.get("matrix", [])]
        prereqs = [
            PrerequisiteCheck(
                id=p["id"], group=p["group"], title=p["title"], check=p.get("check"), required=p.get("required", True)
            )
            for p in data.get("prerequisites", [])
        ]
        manual = [ChecklistItem(id=m["id"], title=m["title"]) for m in data.get("manual_verification", [])]
        follow = [ChecklistItem(id=m["id"], title=m["title"]) for m in data.get("follow_up", [])]
        runbook = Runbook(
            title=data.get("title", "Runbook"),
            start=tree["start"],
            questions=questions,
            outcomes=outcomes,
            matrix=matrix,
            prerequisites=prereqs,
            manual_verification=manual,
            follow_up=follow,
            optional_steps={str(k): str(v) for k, v in data.get("optional_steps", {}).items()},
        )
    except KeyError as exc:
        raise RunbookError(f"runbook is missing key {exc}") from None
    _check_references(runbook)
    return runbook


def _check_references(runbook: Runbook) -> None:
    if runbook.start not in runbook.questions:
        raise RunbookError(f"tree.start names unknown question {runbook.start!r}")
    for q in runbook.questions.values():
        for branch in (q.yes, q.no):
            if branch.next and branch.next not in runbook.questions:
                raise RunbookError(f"question {q.id!r} leads to unknown question {branch.next!r}")
            if branch.outcome and branch.outcome not in runbook.outcomes:
                raise RunbookError(f"question {q.id!r} leads to unknown outcome {branch.outcome!r}")
    for row in runbook.matrix:
        if row.favours not in COLUMNS:
            raise RunbookError(f"matrix row {row.id!r} favours unknown column {row.favours!r}")


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def optional_steps(path: Path | None = None) -> dict[str, str]:
    """The procedure steps the runbook marks optional, with its reason (see ``[optional_steps]``)."""
    return load_runbook(path).optional_steps


def load_runbook(path: Path | None = None, thresholds: dict[str, float] | None = None) -> Runbook:
    """The user's runbook file if given, else the one shipped with the console."""
    if path is None:
        text = resources.files("console.data").joinpath("runbook.toml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RunbookError(f"runbook is not valid TOML: {exc}") from None
    return parse_runbook(data, thresholds)
