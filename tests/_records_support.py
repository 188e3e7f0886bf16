"""Test helpers over typed journal records."""


def last_record(journal, kind: str):
    """The latest record of ``kind`` in ``journal`` (None without one)."""
    return next((r for r in reversed(journal.records()) if r.kind == kind), None)
