"""The journal's write path: short writes are finished or undone, new entries are made durable."""

from __future__ import annotations

import errno
import os

import pytest

import console.incident.journal as journal_module
from console.incident.journal import Journal


def test_short_writes_are_continued_until_the_whole_record_is_written(tmp_path, monkeypatch):
    journal = Journal.create(tmp_path)
    real_write = os.write
    monkeypatch.setattr(journal_module.os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    journal.record("note", text="a record much longer than seven bytes " * 4)
    journal.record("note", text="and the next one")
    assert [r.text for r in journal.records()] == ["a record much longer than seven bytes " * 4, "and the next one"]


def test_a_full_disk_mid_record_leaves_no_fragment_to_glue_the_next_record(tmp_path, monkeypatch):
    journal = Journal.create(tmp_path)
    journal.record("note", text="before")
    real_write = os.write
    calls = {"n": 0}

    def full_after_some_bytes(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:10]))  # part of the line fits
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "write", full_after_some_bytes)
    with pytest.raises(OSError):
        journal.record("step_started", step_id="compose_down")
    monkeypatch.setattr(journal_module.os, "write", real_write)
    journal.record("note", text="after")  # space again: this record must be readable
    assert journal.path.read_bytes().endswith(b"\n")
    assert [(r.kind, getattr(r, "text", None)) for r in journal.records()] == [("note", "before"), ("note", "after")]
    assert [r.seq for r in journal.records()] == [1, 2]


def test_creating_an_incident_fsyncs_its_directories(tmp_path, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "fsync", spy)
    journal = Journal.create(tmp_path / "state")
    assert str(journal.directory) in synced and str(journal.directory.parent) in synced
    synced.clear()
    journal.record("incident_opened")
    assert synced == [str(journal.path), str(journal.directory)]  # the new file's entry too
    synced.clear()
    journal.record("note", text="x")
    assert synced == [str(journal.path)]
