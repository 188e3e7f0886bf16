"""The host copy of journals and of the release log (console.incident.host_mirror), with this
machine's shell as the host (LocalTransport): files 0600 in 0700 dirs, appended in order, host wins."""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import stat
from datetime import UTC
from pathlib import Path

from console.config import load_config
from console.incident import host_mirror
from console.incident.journal import Journal
from console.incident.records import Handoff, Note
from console.incident.session import IncidentSession
from console.release.release_log import Release, ReleaseLog
from console.transport.base import CommandResult
from console.transport.local import LocalTransport

ROOT = Path(__file__).resolve().parent.parent


def _config(tmp_path: Path, name: str = "a", operator: str = "oncall"):
    base = load_config(ROOT / "config.example.toml")
    target = dataclasses.replace(base.target, artifacts_dir=str(tmp_path / "host" / "artifacts"))
    paths = dataclasses.replace(base.paths, state_dir=tmp_path / name, release_log=tmp_path / name / "releases.toml")
    return dataclasses.replace(base, target=target, paths=paths, operator=operator)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_command_builders_quote_paths_as_arguments():
    argv = host_mirror.append_argv(
        "/opt/a b/incident-console",
        "/opt/a b/incident-console/incidents/x",
        "/opt/a b/incident-console/incidents/x/journal.jsonl",
    )
    assert shlex.join(argv).startswith('sh -c \'umask 077 && mkdir -p -- "$2"')
    assert argv[-3:] == [
        "/opt/a b/incident-console",
        "/opt/a b/incident-console/incidents/x",
        "/opt/a b/incident-console/incidents/x/journal.jsonl",
    ]
    assert (
        shlex.join(host_mirror.read_argv("/x/y"))
        == 'sh -c \'if [ -f "$1" ]; then cat -- "$1"; else exit 3; fi\' sh /x/y'
    )


def test_a_bad_incident_id_never_becomes_a_host_path(tmp_path):
    config = _config(tmp_path)
    for bad in ("../etc", "a/b", "", ".hidden", "x;rm"):
        try:
            host_mirror.host_journal(config, bad)
        except host_mirror.HostStateError as exc:
            assert "not an incident id" in str(exc)
        else:
            raise AssertionError(bad)


def test_every_record_reaches_the_host_copy_in_order_private(tmp_path):
    config = _config(tmp_path)

    async def go():
        journal = Journal.create(config.paths.state_dir, "20261129-120000-abcd")
        mirror = host_mirror.HostMirror(config, journal, LocalTransport())
        mirror.attach()
        journal.record("incident_opened", incident_id=journal.incident_id, operator="oncall", target="t")
        for i in range(20):
            journal.record("note", by="x", text=f"n{i}")
            if i % 7 == 0:
                await asyncio.sleep(0)  # the background flush runs while the writer goes on
        assert await mirror.close()
        return journal

    journal = asyncio.run(go())
    host = Path(host_mirror.host_journal(config, journal.incident_id))
    assert host.read_bytes() == journal.path.read_bytes()
    assert _mode(host) == 0o600
    for directory in (host.parent, host.parent.parent, host.parent.parent.parent):
        assert _mode(directory) == 0o700, directory


class _DeadHost:
    description = "dead"

    def __init__(self):
        self.calls = 0

    async def run(self, argv, **kw):
        self.calls += 1
        return CommandResult(argv, None, 0.0)


def test_an_unreachable_host_is_noted_once_and_caught_up_later(tmp_path):
    config = _config(tmp_path)

    async def go():
        journal = Journal.create(config.paths.state_dir, "20261129-120000-beef")
        mirror = host_mirror.HostMirror(config, journal, _DeadHost())
        mirror.attach()
        journal.record("incident_opened", incident_id=journal.incident_id, operator="oncall")
        await asyncio.sleep(0.05)
        for i in range(3):
            journal.record("note", by="x", text=f"n{i}")
        assert not await mirror.flush()
        assert not await mirror.flush()
        notes = [r.text for r in journal.records() if isinstance(r, Note) and "host copy" in r.text]
        assert len(notes) == 1 and "behind" in notes[0] and "link dropped" in notes[0]
        mirror.transport = LocalTransport()  # the host is back
        assert await mirror.close()
        return journal

    journal = asyncio.run(go())
    assert Path(host_mirror.host_journal(config, journal.incident_id)).read_bytes() == journal.path.read_bytes()
    assert "caught up" in journal.records()[-1].text


def _log(path: Path, deployed: str) -> None:
    log = ReleaseLog(path)
    for tag, at in (("v1", "2026-11-20T10:00:00Z"), ("v2", "2026-11-21T10:00:00Z")):
        log.add_release(Release(tag, at))
    log.set_deployed(deployed)
    log.save()


def test_release_log_host_wins_and_a_host_without_one_is_seeded(tmp_path):
    config = _config(tmp_path)
    _log(config.paths.release_log, "v2")
    transport = LocalTransport()
    asyncio.run(host_mirror.sync_release_log(config, transport, lambda e: (_ for _ in ()).throw(AssertionError(e))))
    host = Path(host_mirror.host_release_log(config))
    assert ReleaseLog.load(host).deployed == "v2" and _mode(host) == 0o600
    # A teammate's console rolled back to v1 and pushed; this machine's cache still says v2.
    other = _config(tmp_path, "b")
    _log(other.paths.release_log, "v1")
    asyncio.run(host_mirror.push_release_log(other, transport))
    asyncio.run(host_mirror.sync_release_log(config, transport, lambda e: None))
    assert ReleaseLog.load(config.paths.release_log).deployed == "v1"


def test_a_broken_host_release_log_never_replaces_the_local_one(tmp_path):
    config = _config(tmp_path)
    _log(config.paths.release_log, "v2")
    host = Path(host_mirror.host_release_log(config))
    host.parent.mkdir(parents=True)
    host.write_text("deployed = [not toml")
    errors = []
    asyncio.run(host_mirror.sync_release_log(config, LocalTransport(), errors.append))
    assert errors and "not usable" in errors[0]
    assert ReleaseLog.load(config.paths.release_log).deployed == "v2"


def test_second_state_dir_lists_fetches_and_hands_off(tmp_path):
    first, second = _config(tmp_path, "a", "alice"), _config(tmp_path, "b", "bob")
    transport = LocalTransport()

    async def go():
        journal = Journal.create(first.paths.state_dir, "20261129-130000-cafe")
        mirror = host_mirror.HostMirror(first, journal, transport)
        mirror.attach()
        journal.record("incident_opened", incident_id=journal.incident_id, operator="alice", target="t", deployed="v2")
        journal.record("procedure_started", procedure="rollback", from_tag="v2", to_tag="v1", dry_run=False)
        await mirror.close()
        listed = await host_mirror.host_summaries(second, transport, set())
        assert [(s.id, s.state) for s in listed] == [("20261129-130000-cafe", "running")]
        assert await host_mirror.host_summaries(second, transport, {"20261129-130000-cafe"}) == []
        assert await host_mirror.prepare(second, transport, "20261129-130000-cafe", lambda e: None)
        assert not await host_mirror.prepare(second, transport, "20261129-130000-cafe", lambda e: None)
        session = IncidentSession.load(second, "20261129-130000-cafe", transport=transport)
        session.fetched_from_host = True
        session._share()
        session._handoff()
        await session.close()
        return session

    session = asyncio.run(go())
    handoff = session.state.handoffs[-1]
    assert isinstance(handoff, Handoff)
    assert (handoff.from_operator, handoff.to_operator, handoff.fetched) == ("alice", "bob", True)
    host = Path(host_mirror.host_journal(second, "20261129-130000-cafe"))
    assert host.read_bytes() == session.journal.path.read_bytes()  # the handoff reached the host too
    # A later resume by the same console on the same machine is no new handoff.
    session._handoff()
    assert len(session.state.handoffs) == 1


def test_the_lock_message_names_holder_machine_and_age():
    from datetime import datetime

    from console.engine.lock import LockHeld, lock_age

    now = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
    assert lock_age("2026-11-29T12:48:00Z", now) == " (12 min ago)"
    assert lock_age("2026-11-29T12:59:30Z", now) == " (30 s ago)"
    assert lock_age("garbage", now) == "" and lock_age(None, now) == ""
    text = str(
        LockHeld(
            "/x/.lock", {"holder": "alice", "machine": "laptop-a", "incident_id": "i1", "since": "2026-11-29T12:48:00Z"}
        )
    )
    assert "alice on laptop-a (incident i1) since 2026-11-29T12:48:00Z (" in text


def test_a_torn_line_on_the_host_is_cut_before_the_next_append(tmp_path):
    config = _config(tmp_path)

    async def go():
        journal = Journal.create(config.paths.state_dir, "20261129-140000-dead")
        journal.record("incident_opened", incident_id=journal.incident_id, operator="oncall")
        host = Path(host_mirror.host_journal(config, journal.incident_id))
        host.parent.mkdir(parents=True)
        host.write_bytes(journal.path.read_bytes() + b'{"v": 2, "seq": 2, "type": "no')  # died mid-append
        mirror = host_mirror.HostMirror(config, journal, LocalTransport())
        mirror.attach()
        journal.record("note", by="x", text="after")
        assert await mirror.close()
        return journal, host

    journal, host = asyncio.run(go())
    assert host.read_bytes() == journal.path.read_bytes()
