import os
import tomllib
from datetime import UTC, datetime

import pytest

import console.release.release_log as releaselog
from console.release.release_log import Release, ReleaseLog, ReleaseLogError

# As sandbox/ctl writes it: TOML datetimes, inline tables, deployed = v2.
SANDBOX_LOG = """\
deployed = "v2"

[[releases]]
tag = "v1"
captured_at = 2026-11-22T13:46:17Z
migration_head = "001_init"
verified = true
pushed = true
[releases.images]
mr-dj-backend = { ref = "127.0.0.1:5000/mr-dj-backend:v1", digest = "sha256:9ef0" }
[releases.files]
"v1-compose.tar.gz" = "cfe9"
"v1-images.tar" = "3e7a"

[[releases]]
tag = "v2"
captured_at = 2026-11-25T12:46:17Z
migration_head = "002_add_booking_notes"
verified = true
pushed = true
deployed_at = 2026-11-25T13:41:17Z
[releases.images]
mr-dj-backend = { ref = "127.0.0.1:5000/mr-dj-backend:v2", digest = "sha256:cb0c" }
[releases.files]
"v2-compose.tar.gz" = "9b47"
"""
AT = datetime(2026, 11, 25, 14, 0, 0, tzinfo=UTC)


@pytest.fixture
def log_path(tmp_path):
    path = tmp_path / "releases.toml"
    path.write_text(SANDBOX_LOG)
    return path


def test_load_reads_the_sandbox_format(log_path):
    log = ReleaseLog.load(log_path)
    assert log.deployed == "v2"
    assert [r.tag for r in log.releases] == ["v1", "v2"]
    v1 = log.get("v1")
    assert v1.captured_at == "2026-11-22T13:46:17Z"
    assert v1.files == {"v1-compose.tar.gz": "cfe9", "v1-images.tar": "3e7a"}
    assert v1.images["mr-dj-backend"]["digest"] == "sha256:9ef0"
    assert (v1.migration_head, v1.verified, v1.pushed, v1.bad) == ("001_init", True, True, None)
    assert log.get("v2").deployed_at == "2026-11-25T13:41:17Z"
    assert log.get("v9") is None


def test_missing_file_is_an_empty_log(tmp_path):
    log = ReleaseLog.load(tmp_path / "none.toml")
    assert log.releases == [] and log.deployed is None and log.previous_good() is None


@pytest.mark.parametrize(
    "text,message",
    [
        ("deployed = [", "not valid TOML"),
        ('deployed = "v3"\n[[releases]]\ntag = "v1"\ncaptured_at = "2026-01-01T00:00:00Z"\n', "not a release"),
        ('[[releases]]\ntag = "v1"\n', "missing captured_at"),
        ('[[releases]]\ntag = "v1"\ncaptured_at = "yesterday"\n', "RFC 3339"),
        (
            '[[releases]]\ntag = "v1"\ncaptured_at = "2026-01-01T00:00:00Z"\n'
            '[[releases]]\ntag = "v1"\ncaptured_at = "2026-01-02T00:00:00Z"\n',
            "duplicate release tags: v1",
        ),
    ],
)
def test_load_rejects_a_broken_log(tmp_path, text, message):
    path = tmp_path / "releases.toml"
    path.write_text(text)
    with pytest.raises(ReleaseLogError, match=message):
        ReleaseLog.load(path)


RELEASE = '[[releases]]\ntag = "v1"\ncaptured_at = "2026-01-01T00:00:00Z"\n'


@pytest.mark.parametrize(
    "text,message",
    [
        (RELEASE + 'bad = "yes, see #ops"\n', r"releases\[0\] \(v1\): bad must be a table"),
        (RELEASE + 'incidents = ["20260314-0250"]\n', r"releases\[0\] \(v1\): incidents\[0\] must be a table"),
        ("releases = [1]\n", r"releases\[0\]: must be a table"),
    ],
)
def test_a_hand_edited_field_of_the_wrong_kind_is_named(tmp_path, text, message):
    path = tmp_path / "releases.toml"
    path.write_text(text)
    with pytest.raises(ReleaseLogError, match=message):
        ReleaseLog.load(path)


def test_a_release_log_error_is_a_value_error():
    # Callers that refuse bad input (`except ValueError`) refuse a bad release log too, not crash on it.
    assert issubclass(ReleaseLogError, ValueError)


def test_previous_good_is_the_newest_earlier_release_not_marked_bad(tmp_path):
    log = ReleaseLog(tmp_path / "r.toml")
    for tag, day in (("v1", 20), ("v3", 24), ("v2", 22), ("v4", 25)):  # listed out of order on purpose
        log.add_release({"tag": tag, "captured_at": f"2026-11-{day}T12:00:00Z"})
    log.set_deployed("v4", at=AT)
    assert log.previous_good().tag == "v3"
    log.mark_bad("v3", by="oncall", reason="broke bookings", at=AT)
    assert log.previous_good().tag == "v2"
    assert log.previous_good("v2").tag == "v1"
    assert log.previous_good("v1") is None
    with pytest.raises(ReleaseLogError):
        log.previous_good("v9")


def test_hotfix_candidates_are_good_releases_captured_after_the_deployed_one(tmp_path):
    log = ReleaseLog(tmp_path / "r.toml")
    assert log.hotfix_candidates() == []
    for tag, day in (("v1", 20), ("v3", 24), ("v2", 22), ("v4", 25), ("v5", 26)):
        log.add_release({"tag": tag, "captured_at": f"2026-11-{day}T12:00:00Z"})
    assert [r.tag for r in log.hotfix_candidates()] == ["v5", "v4", "v3", "v2", "v1"]  # nothing deployed
    log.set_deployed("v2", at=AT)
    log.mark_bad("v4", by="oncall", reason="broke bookings", at=AT)
    assert [r.tag for r in log.hotfix_candidates()] == ["v5", "v3"]


def test_good_releases_after_a_tag_or_every_good_one_for_an_uncaptured_build(tmp_path):
    log = ReleaseLog(tmp_path / "r.toml")
    for tag, day in (("v1", 20), ("v3", 24), ("v2", 22), ("v4", 25)):
        log.add_release({"tag": tag, "captured_at": f"2026-11-{day}T12:00:00Z"})
    log.set_deployed("v3", at=AT)
    log.mark_bad("v4", by="oncall", reason="broke bookings", at=AT)
    assert [r.tag for r in log.good_releases_after("v1")] == ["v3", "v2"]  # not the deployed one's view
    assert [r.tag for r in log.good_releases_after("v3")] == []
    assert [r.tag for r in log.good_releases_after(None)] == ["v3", "v2", "v1"]
    assert [r.tag for r in log.good_releases_after("dev-build")] == ["v3", "v2", "v1"]


def test_mark_bad_and_set_deployed(log_path):
    log = ReleaseLog.load(log_path)
    log.mark_bad("v2", by="oncall", reason="rolled back by incident X", at=AT)
    log.set_deployed("v1", at=AT)
    log.save()
    again = ReleaseLog.load(log_path)
    assert again.deployed == "v1"
    assert again.get("v1").deployed_at == "2026-11-25T14:00:00Z"
    assert again.get("v2").bad == {"by": "oncall", "at": "2026-11-25T14:00:00Z", "reason": "rolled back by incident X"}
    with pytest.raises(ReleaseLogError, match="v9 is not in the release log"):
        log.set_deployed("v9")
    with pytest.raises(ReleaseLogError):
        log.mark_bad("v9", by="x", reason="y")


def test_add_release_refuses_a_duplicate_tag(log_path):
    log = ReleaseLog.load(log_path)
    added = log.add_release(
        {"tag": "v3", "captured_at": "2026-11-25T15:00:00Z", "files": {"v3-compose.tar.gz": "ab"}, "verified": True}
    )
    assert isinstance(added, Release) and log.get("v3") is added
    with pytest.raises(ReleaseLogError, match="already in the release log"):
        log.add_release(Release(tag="v1", captured_at="2026-11-25T15:00:00Z"))
    log.save()
    assert [r.tag for r in ReleaseLog.load(log_path).releases] == ["v1", "v2", "v3"]


def test_record_incident_after_a_rollback(log_path):
    log = ReleaseLog.load(log_path)
    log.mark_bad("v2", by="oncall", reason="rolled back", at=AT)
    log.set_deployed("v1", at=AT)
    hashes = {"v1-compose.tar.gz": "cfe9", "v1-images.tar": "3e7a"}
    decision = {
        "action": "rolled_back",
        "from_head": "002_add_booking_notes",
        "to_head": "001_init",
        "undone": ["002_add_booking_notes"],
        "reason": None,
    }
    entry = log.record_incident("v1", "20261125-133708-ab12", "succeeded", hashes, decision, at=AT)
    assert entry == {
        "id": "20261125-133708-ab12",
        "outcome": "succeeded",
        "from": "v2",
        "to": "v1",
        "at": "2026-11-25T14:00:00Z",
        "hashes": hashes,
        "migration": {
            "action": "rolled_back",
            "from_head": "002_add_booking_notes",
            "to_head": "001_init",
            "undone": ["002_add_booking_notes"],
        },
    }
    # Recorded on the bad release instead, the move reads the same way round.
    other = log.record_incident("v2", "20261125-133708-ab12", "rollback", hashes, None, at=AT)
    assert (other["from"], other["to"]) == ("v2", "v1") and "migration" not in other
    log.save()
    saved = ReleaseLog.load(log_path)
    assert saved.get("v1").incidents == [entry]
    assert tomllib.loads(log_path.read_text())["releases"][0]["incidents"][0]["hashes"] == hashes


def test_round_trip_keeps_unknown_keys(log_path):
    images = '[releases.images]\nmr-dj-backend = { ref = "127.0.0.1:5000/mr-dj-backend:v1"'
    log_path.write_text(
        SANDBOX_LOG.replace(f"pushed = true\n{images}", f'pushed = true\nnotes = "first release"\n{images}')
    )
    log = ReleaseLog.load(log_path)
    log.save()
    assert ReleaseLog.load(log_path).get("v1").extra == {"notes": "first release"}


def test_a_failed_write_leaves_the_old_file_intact(log_path, monkeypatch):
    before = log_path.read_bytes()
    log = ReleaseLog.load(log_path)
    log.set_deployed("v1", at=AT)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(releaselog.os, "replace", broken_replace)
    with pytest.raises(OSError):
        log.save()
    assert log_path.read_bytes() == before
    assert sorted(os.listdir(log_path.parent)) == ["releases.toml"]  # no temp file left behind


def test_an_unserialisable_log_is_refused_before_touching_the_file(log_path):
    before = log_path.read_bytes()
    log = ReleaseLog.load(log_path)
    log.get("v1").extra["weird"] = object()
    with pytest.raises(TypeError):
        log.save()
    assert log_path.read_bytes() == before


def test_save_creates_a_new_log(tmp_path):
    path = tmp_path / "state" / "releases.toml"
    log = ReleaseLog.load(path)
    log.add_release({"tag": "v1", "captured_at": "2026-11-22T12:00:00Z", "images": {}, "files": {}})
    log.set_deployed("v1", at=AT)
    log.save()
    data = tomllib.loads(path.read_text())
    assert data["deployed"] == "v1" and data["releases"][0]["captured_at"] == "2026-11-22T12:00:00Z"
