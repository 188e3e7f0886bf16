"""Pilot tests: home shows what the host runs; the rollback path offers the targets, automatic preselected."""

from __future__ import annotations

import json
import shlex

import pytest
from textual.widgets import OptionList

from console.release.release_log import Release, ReleaseLog
from console.transport.base import CommandResult
from screens.app import make_app
from screens.checklist import ChecklistScreen
from screens.home import HomeScreen
from screens.rollback_target import RollbackTargetDialog
from tests._screens_support import HostStandIn, fixed_clock, make_config, wait_for

V1 = {"mr-dj-backend": "sha256:" + "1" * 64, "mr-dj-frontend": "sha256:" + "2" * 64}  # _screens_support's v1


class DockerHost(HostStandIn):
    """A stand-in host whose docker answers: the project's containers run ``images`` (service -> digest)."""

    def __init__(self, images: dict[str, str], sums: str = "") -> None:
        super().__init__()
        self.images = images
        self.sums = sums

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False) -> CommandResult:
        joined = shlex.join(argv)
        if argv[:2] == ["sh", "-c"] and "docker ps -aq" in argv[2]:
            self.commands.append(list(argv))
            out = json.dumps(
                [
                    {
                        "Name": f"/mr-dj_{s}_1",
                        "Image": f"sha256:img-{s}",
                        "State": {"Running": True},
                        "Created": "2026-03-14T02:50:00.123456789Z",
                        "Config": {"Image": f"r/{s}:x", "Labels": {"com.docker.compose.service": s}},
                    }
                    for s in self.images
                ]
            )
            return CommandResult(list(argv), 0, 0.0, out, "")
        if joined.startswith("docker image inspect"):
            self.commands.append(list(argv))
            out = json.dumps([{"Id": f"sha256:img-{s}", "RepoDigests": [f"r/{s}@{d}"]} for s, d in self.images.items()])
            return CommandResult(list(argv), 0, 0.0, out, "")
        if argv[:2] == ["cat", "--"] and argv[2].endswith("SHA256SUMS.txt"):
            return CommandResult(list(argv), 0, 0.0, self.sums, "")
        return await super().run(argv, timeout=timeout, on_output=on_output, stdin=stdin, capture=capture)


def facts(app) -> str:
    return str(app.screen.query_one("#home-facts").render())


@pytest.mark.asyncio
async def test_home_shows_what_the_host_runs_and_the_disagreement(tmp_path):
    app = make_app(make_config(tmp_path), transport=DockerHost(V1), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, HomeScreen)
        await wait_for(pilot, lambda: "Host runs:              v1" in facts(app), what="the host's release")
        assert "Deployed (release log): v2" in facts(app)
        assert "! the host runs v1 but the release log says v2" in facts(app)
        # the previous known-good release is the one before what runs: nothing before v1
        assert "Previous known-good:    (none)" in facts(app)


def log_with_older_releases(config) -> None:
    log = ReleaseLog.load(config.paths.release_log)
    log.releases.insert(0, Release(tag="v0", captured_at="2026-03-12T10:00:00Z", verified=False))
    log.releases.insert(
        0, Release(tag="v0a", captured_at="2026-03-11T10:00:00Z", verified=True, files={"v0a-compose.tar.gz": "c" * 64})
    )
    log.mark_bad("v0", by="alice", reason="corrupt bundle")
    log.save()


async def open_rollback_picker(pilot, app) -> RollbackTargetDialog:
    screen = ChecklistScreen(app.journal, "rollback")
    await app.push_screen(screen)
    await wait_for(pilot, lambda: all(w.is_finished for w in screen.workers), what="the machine checks")
    for item in screen.checklist.blocking():
        screen.checklist.waive(item.id, "test", by="oncall")
    screen.show_states()
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, RollbackTargetDialog), what="the target picker")
    return app.screen


@pytest.mark.asyncio
async def test_the_picker_offers_known_good_releases_older_than_what_runs_with_the_automatic_one_chosen(tmp_path):
    config = make_config(tmp_path)
    log_with_older_releases(config)
    chosen = []
    app = make_app(config, transport=DockerHost(V1, sums=f"{'c' * 64}  v0a-compose.tar.gz\n"), clock=fixed_clock)
    async with app.run_test(
        size=(120, 40),
        message_hook=lambda m: isinstance(m, ChecklistScreen.ProcedureChosen) and chosen.append(m.procedure),
    ) as pilot:
        from console.engine.incident import open_new_incident

        app.set_incident(open_new_incident(config, "v2"))
        dialog = await open_rollback_picker(pilot, app)
        assert [c.tag for c in dialog.candidates] == ["v0", "v0a"]  # older than v1 (what runs), newest first
        bad, good = dialog.candidates
        assert bad.bad["reason"] == "corrupt bundle" and not bad.selectable
        assert good.automatic and good.hashes_ok and good.db_verified
        options = dialog.query_one("#targets", OptionList)
        assert options.highlighted == 1 and options.get_option_at_index(0).disabled
        text = str(options.get_option_at_index(0).prompt) + str(options.get_option_at_index(1).prompt)
        assert "BAD: corrupt bundle (alice)" in text and "db snapshot verified" in text
        assert "hashes ✓ match the host's SHA256SUMS" in text and "(automatic choice)" in text
        assert "The host runs v1" in str(dialog.query_one(".dialog--question").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: chosen, what="the procedure")
        assert (chosen[0].from_tag, chosen[0].to_tag) == ("v1", "v0a")


@pytest.mark.asyncio
async def test_the_coordinator_can_pick_another_target_or_cancel(tmp_path):
    config = make_config(tmp_path)
    chosen = []
    app = make_app(
        config,
        transport=DockerHost({"mr-dj-backend": "sha256:" + "3" * 64, "mr-dj-frontend": "sha256:" + "2" * 64}),
        clock=fixed_clock,
    )
    async with app.run_test(
        size=(120, 40),
        message_hook=lambda m: isinstance(m, ChecklistScreen.ProcedureChosen) and chosen.append(m.procedure),
    ) as pilot:
        from console.engine.incident import open_new_incident

        app.set_incident(open_new_incident(config, "v2"))
        dialog = await open_rollback_picker(pilot, app)
        assert [c.tag for c in dialog.candidates] == ["v1"] and dialog.candidates[0].automatic
        assert dialog.candidates[0].hashes == "missing on the host (v1-compose.tar.gz)"  # an empty SHA256SUMS
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChecklistScreen), what="back on the checklist")
        assert not chosen
