"""The journal file: appending, replaying, and surviving a crash mid-write."""

from __future__ import annotations

import json

import pytest

from console.incident.journal import Journal
from console.incident.listing import all_incidents
from tests._records_support import last_record

TORN = {
    "ascii": b'{"seq": 2, "ts": "2026-03-14T03:0',
    "utf8": '{"seq": 2, "ts": "2026", "type": "note", "text": "rollback →'.encode()[:-1],  # inside "→"
}


@pytest.fixture
def journal(tmp_path):
    journal = Journal.create(tmp_path / "state", "20260314-025000-abcd")
    journal.record("incident_opened", incident_id=journal.incident_id, deployed="v2")
    return journal


def tear(journal: Journal, fragment: bytes) -> None:
    with open(journal.path, "ab") as handle:  # the power went while this record was written
        handle.write(fragment)


def test_records_are_appended_and_replayed_in_order(journal):
    journal.record("note", text="rollback → v1", by="oncall")
    assert [(r.seq, r.kind) for r in journal.records()] == [(1, "incident_opened"), (2, "note")]
    assert last_record(journal, "note").text == "rollback → v1"


@pytest.mark.parametrize("torn", sorted(TORN))
def test_a_torn_last_line_is_skipped_on_replay(journal, tmp_path, torn):
    tear(journal, TORN[torn])
    assert [r.kind for r in Journal(journal.directory).records()] == ["incident_opened"]
    # Home lists every incident at start-up: a torn journal must not stop the console starting.
    assert [i.id for i in all_incidents(tmp_path / "state")] == [journal.incident_id]


@pytest.mark.parametrize("torn", sorted(TORN))
def test_the_next_record_after_a_torn_line_starts_clean_and_the_fragment_is_kept(journal, torn):
    tear(journal, TORN[torn])
    reopened = Journal(journal.directory)
    reopened.record("decision", question_id="customer_impact", answer=True, by="oncall")
    reopened.record("decision", question_id="recent_deploy", answer=True, by="oncall")
    replay = list(Journal(journal.directory).records())
    assert [r.kind for r in replay] == ["incident_opened", "note", "decision", "decision"]
    assert [r.seq for r in replay] == [1, 2, 3, 4]
    note = replay[1]
    side = journal.directory / note.torn_file
    assert side.name == "journal.torn-00002" and side.read_bytes() == TORN[torn]
    assert note.torn_bytes == len(TORN[torn]) and note.by == "console"
    assert journal.path.read_bytes().endswith(b"\n")


def test_a_whole_file_ends_in_a_newline_and_nothing_is_repaired(journal):
    Journal(journal.directory).record("note", text="fine", by="oncall")
    assert [r.kind for r in journal.records()] == ["incident_opened", "note"]
    assert not list(journal.directory.glob("journal.torn-*"))


def test_an_unreadable_line_in_the_middle_hides_none_of_the_records_after_it(journal):
    # As an older console left it: the next record glued onto a torn fragment.
    glued = TORN["utf8"] + json.dumps({"seq": 2, "ts": "2026", "type": "decision"}).encode() + b"\n"
    with open(journal.path, "ab") as handle:
        handle.write(glued)
    Journal(journal.directory).record("outcome", outcome="rollback", by="oncall")
    assert [r.kind for r in journal.records()] == ["incident_opened", "outcome"]
