"""Pilot tests of the capture screen's flow: opening it, refusing an unsafe tag, showing progress
and the result. capture_release is replaced by a coroutine that reports like the real one; the real
capture is covered by tests/test_capture_sandbox.py."""

from __future__ import annotations

import asyncio
import threading

import pytest
from textual.widgets import Log, ProgressBar

import screens.capture as capture_screen
from console.capture.errors import CaptureError
from console.capture.release import CaptureResult
from screens.app import make_app
from screens.capture import CaptureScreen
from screens.home import HomeScreen
from screens.modals import ConfirmDialog
from tests._screens_support import HostStandIn, fixed_clock, make_config, wait_for

SHA = "c" * 64


def app_for(tmp_path):
    return make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)


async def open_capture(pilot, app) -> CaptureScreen:
    assert isinstance(app.screen, HomeScreen)
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, CaptureScreen), what="the capture screen")
    return app.screen


async def type_tag(pilot, screen, tag: str) -> None:
    screen.query_one("#capture-tag").value = tag
    await pilot.pause()


@pytest.mark.asyncio
async def test_capture_opens_from_home_and_escape_goes_back(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_capture(pilot, app)
        assert screen.config is app.config
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home again")


@pytest.mark.asyncio
async def test_unsafe_tag_shows_inline_error_and_starts_nothing(tmp_path, monkeypatch):
    calls = []

    async def must_not_run(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError("capture started on an unsafe tag")

    monkeypatch.setattr(capture_screen, "capture_release", must_not_run)
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_capture(pilot, app)
        await type_tag(pilot, screen, "v1;rm -rf /")
        await pilot.press("ctrl+r")
        await pilot.pause(0.2)
        error = str(screen.query_one("#capture-tag-error").render())
        assert "Not a valid release tag" in error and "v1;rm -rf /" in error
        assert not screen.running and not calls
        assert not [w for w in app.workers if w.group == "capture"]
        # Editing the tag clears the error.
        await type_tag(pilot, screen, "v3")
        assert str(screen.query_one("#capture-tag-error").render()).strip() == ""


@pytest.mark.asyncio
async def test_valid_tag_runs_capture_and_shows_progress_and_result(tmp_path, monkeypatch):
    seen = {}
    release_gate = asyncio.Event()

    async def fake_capture(
        config, tag, *, push=True, with_db=True, reporter=None, transport=None, source_tag="latest", build=False
    ):
        seen.update(config=config, tag=tag, push=push, with_db=with_db, build=build)
        reporter.step(f"pushing 127.0.0.1:5999/mr-dj-backend:{tag}")

        def from_a_thread() -> None:  # the real capture reports push progress from docker's thread
            image = f"127.0.0.1:5999/mr-dj-backend:{tag}"
            reporter.push_progress(image, "aaa", "Pushing", 30, 100)
            reporter.push_progress(image, "bbb", "Pushing", 50, 300)
            reporter.push_progress(f"127.0.0.1:5999/mr-dj-frontend:{tag}", "ccc", "Layer already exists", None, None)
            reporter.warning("migration head unknown: no table")

        thread = threading.Thread(target=from_a_thread)
        thread.start()
        await asyncio.to_thread(thread.join)
        reporter.upload_progress(f"{tag}-images.tar", 400, 1000)
        await release_gate.wait()
        reporter.upload_progress(f"{tag}-images.tar", 1000, 1000)
        reporter.step(f"release {tag} recorded")
        record = {
            "tag": tag,
            "verified": False,
            "pushed": False,
            "db_check": "skipped",
            "migration_head": None,
            "images": {"mr-dj-backend": {"ref": f"127.0.0.1:5999/mr-dj-backend:{tag}", "digest": "sha256:" + "d" * 64}},
            "files": {f"{tag}-images.tar": SHA},
        }
        return CaptureResult(
            tag=tag,
            record=record,
            files=record["files"],
            local_paths={},
            remote_paths={},
            warnings=["database snapshot skipped (--skip-db)"],
        )

    monkeypatch.setattr(capture_screen, "capture_release", fake_capture)
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_capture(pilot, app)
        await type_tag(pilot, screen, "v3")
        await pilot.click("#capture-push")
        await pilot.click("#capture-db")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(screen.query(ProgressBar)) == 3, what="image and upload bars")
        assert screen.running
        bars = {str(b.parent.query_one("Label").render()): b for b in screen.query(ProgressBar)}
        image_bar = bars["image 127.0.0.1:5999/mr-dj-backend:v3"]
        assert (image_bar.progress, image_bar.total) == (80, 400)  # layers summed
        existing = bars["image 127.0.0.1:5999/mr-dj-frontend:v3"]
        assert (existing.progress, existing.total) == (1, 1)  # the registry had every layer: done
        upload_bar = bars["upload v3-images.tar"]
        assert (upload_bar.progress, upload_bar.total) == (400, 1000)
        await pilot.press("escape")  # refused while running
        assert app.screen is screen

        release_gate.set()
        await wait_for(pilot, lambda: screen.result is not None, what="the result")
        await pilot.pause(0.2)
        assert seen["tag"] == "v3" and seen["push"] is False and seen["with_db"] is False
        assert seen["build"] is False  # building is opt-in
        assert seen["config"] is app.config
        assert (upload_bar.progress, upload_bar.total) == (1000, 1000)
        assert (image_bar.progress, image_bar.total) == (400, 400)  # captured: every bar ends full
        log = "\n".join(screen.query_one("#capture-log", Log).lines)
        assert "pushing 127.0.0.1:5999/mr-dj-backend:v3" in log
        assert "WARNING: migration head unknown" in log and "release v3 recorded" in log
        result = str(screen.query_one("#capture-result").render())
        assert "Captured v3" in result and "verified=False" in result
        assert f"{SHA}  v3-images.tar" in result and "sha256:" + "d" * 64 in result
        assert not screen.running and not screen.query_one("#capture-start").disabled


@pytest.mark.asyncio
async def test_capture_failure_is_shown_and_records_nothing(tmp_path, monkeypatch):
    async def failing(config, tag, **kwargs):
        kwargs["reporter"].step("tagging images")
        raise CaptureError("cannot reach the host: connection refused")

    monkeypatch.setattr(capture_screen, "capture_release", failing)
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_capture(pilot, app)
        await type_tag(pilot, screen, "v3")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.error is not None, what="the error")
        assert "Capture of v3 failed, nothing recorded: cannot reach the host" in str(
            screen.query_one("#capture-result").render()
        )
        assert screen.result is None and not screen.running
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home again")


@pytest.mark.asyncio
async def test_build_first_checkbox_asks_the_capture_to_build_and_shows_its_output(tmp_path, monkeypatch):
    seen = {}

    async def fake_capture(config, tag, *, reporter=None, build=False, **kwargs):
        seen.update(build=build)
        reporter.step("building mr-dj-backend:latest from ./backend")

        def from_a_thread() -> None:  # docker's build stream is read in a thread
            reporter.build_output("mr-dj-backend:latest", "Step 1/6 : FROM scratch")

        thread = threading.Thread(target=from_a_thread)
        thread.start()
        await asyncio.to_thread(thread.join)
        raise CaptureError("build of mr-dj-backend:latest failed: COPY failed")

    monkeypatch.setattr(capture_screen, "capture_release", fake_capture)
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_capture(pilot, app)
        assert screen.query_one("#capture-build").value is False
        await type_tag(pilot, screen, "v3")
        await pilot.click("#capture-build")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.error is not None, what="the error")
        await pilot.pause(0.2)
        assert seen == {"build": True}
        log = "\n".join(screen.query_one("#capture-log", Log).lines)
        assert "building mr-dj-backend:latest from ./backend" in log and "  Step 1/6 : FROM scratch" in log
        assert "build of mr-dj-backend:latest failed" in str(screen.query_one("#capture-result").render())


@pytest.mark.asyncio
async def test_quitting_while_a_capture_runs_asks_first(tmp_path, monkeypatch):
    async def pushing(config, tag, **kwargs):
        kwargs["reporter"].step("pushing mr-dj-backend ...")
        await asyncio.sleep(60)

    monkeypatch.setattr(capture_screen, "capture_release", pushing)
    app = app_for(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_capture(pilot, app)
        await type_tag(pilot, screen, "v3")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.running, what="the capture to run")
        await pilot.press("tab", "q")  # focus off the tag input: q is the app's quit
        assert isinstance(app.screen, ConfirmDialog)
        assert "capture is running" in app.screen.question
        await pilot.press("n")
        assert app.screen is screen and screen.running and app.is_running
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
