"""Capture a release (runbook section 1) from the console: tag, options, progress, result.

The capture itself is :func:`console.capture.release.capture_release`; this screen only asks for
the tag, shows what the capture reports, and shows the result or why nothing was recorded.
"""

from __future__ import annotations

import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Log, ProgressBar, Static

from console.capture.errors import BadCaptureInput, CaptureError
from console.capture.release import CaptureReporter, CaptureResult, capture_release
from console.config import Config
from console.validate import is_valid_tag
from screens.base import ConsoleScreen

# Seconds between two refreshes of the log and the bars: a push stream sends many events a second.
FLUSH_INTERVAL = 0.1
MAX_LINE = 500


class ScreenReporter(CaptureReporter):
    """Collects what a capture reports, from any thread; the screen drains it on its own timer,
    so a flood of push events costs one redraw per interval, not one per event."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._layers: dict[str, dict[str, tuple[int, int]]] = {}  # image -> layer -> (current, total)
        self._uploads: dict[str, tuple[int, int]] = {}
        self._dirty = False

    def step(self, message: str) -> None:
        with self._lock:
            self._lines.append(message[:MAX_LINE])

    def warning(self, message: str) -> None:
        with self._lock:
            self._lines.append(f"WARNING: {message}"[:MAX_LINE])

    def push_progress(self, image, layer, status, current, total) -> None:
        with self._lock:
            layers = self._layers.setdefault(image, {})
            if layer is not None and total:
                layers[layer] = (min(current or 0, total), total)
            elif layer is not None and status.lower().startswith(("pushed", "layer already exists")):
                # a layer the registry already had never reports a size: count it as one unit, done
                done = layers.get(layer, (0, 0))[1] or 1
                layers[layer] = (done, done)
            self._dirty = True

    def build_output(self, image: str, line: str) -> None:
        with self._lock:
            self._lines.append(f"  {line}"[:MAX_LINE])

    def upload_progress(self, name: str, done: int, total: int) -> None:
        with self._lock:
            self._uploads[name] = (done, total)
            self._dirty = True

    def drain(self) -> tuple[list[str], dict[str, tuple[int, int]] | None, dict[str, tuple[int, int]] | None]:
        """New log lines, and per image / per file (done, total) if anything moved since last time."""
        with self._lock:
            lines, self._lines = self._lines, []
            if not self._dirty:
                return lines, None, None
            self._dirty = False
            images = {
                image: (sum(c for c, _ in layers.values()), sum(t for _, t in layers.values()))
                for image, layers in self._layers.items()
            }
            return lines, images, dict(self._uploads)


class CaptureScreen(ConsoleScreen):
    SCREEN_TITLE = "Capture release"

    BINDINGS = [
        Binding("escape", "back", "Back", id="capture.back"),
        Binding("ctrl+r", "start", "Start capture", id="capture.start"),
    ]

    DEFAULT_CSS = """
    CaptureScreen {
        #capture-body { height: 1fr; padding: 0 1; }
        #capture-form { height: auto; }
        #capture-form > Input { width: 30; }
        #capture-form > Checkbox { margin: 0 0 0 1; }
        #capture-options { height: auto; }
        #capture-options > Checkbox { margin: 0 0 0 31; }
        #capture-tag-error { color: $error; height: auto; }
        #capture-progress { height: auto; }
        .capture--bar { height: 1; }
        .capture--bar > Label { width: 40; }
        #capture-log { height: 8; min-height: 4; border: round $panel; }
        #capture-result { height: auto; margin: 1 0 0 0; }
        #capture-result.-error { color: $error; }
        #capture-result.-unverified { color: $warning; }
        #capture-result.-ok { color: $success; }
    }
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.running = False
        self.result: CaptureResult | None = None
        self.error: str | None = None
        self._reporter = ScreenReporter()
        self._bars: dict[str, ProgressBar] = {}

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll(id="capture-body"):
            yield Static("Release tag", classes="section-title")
            with Horizontal(id="capture-form"):
                yield Input(placeholder="e.g. v3", id="capture-tag")
                yield Checkbox("Push images to the registry", True, id="capture-push")
                yield Checkbox("Database snapshot", True, id="capture-db")
            with Horizontal(id="capture-options"):
                # Runbook section 4, step 3: build <image>:latest from the compose build: contexts first.
                yield Checkbox("Build images first (compose build: contexts)", False, id="capture-build")
            yield Static("", id="capture-tag-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Start capture (ctrl+r)", id="capture-start", variant="primary")
            yield Static("Progress", classes="section-title")
            yield Vertical(id="capture-progress")
            yield Log(id="capture-log", max_lines=2000)
            yield Static("", id="capture-result", markup=False)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#capture-tag", Input).focus()
        self.set_interval(FLUSH_INTERVAL, self._flush)

    # -- starting -------------------------------------------------------------------------

    def action_start(self) -> None:
        if self.running:
            self.notify("A capture is already running.", severity="warning")
            return
        tag = self.query_one("#capture-tag", Input).value.strip()
        error = self.query_one("#capture-tag-error", Static)
        if not is_valid_tag(tag):
            # Checked here too, not only in the core: nothing starts on a tag the shell could misread.
            error.update(
                f"Not a valid release tag: {tag!r} (letters, digits, '.', '_', '-')"
                if tag
                else "Enter the release tag to capture."
            )
            return
        error.update("")
        self._reset()
        self.running = True
        self.query_one("#capture-start", Button).disabled = True
        self.run_capture(
            tag,
            self.query_one("#capture-push", Checkbox).value,
            self.query_one("#capture-db", Checkbox).value,
            self.query_one("#capture-build", Checkbox).value,
        )

    @on(Button.Pressed, "#capture-start")
    @on(Input.Submitted, "#capture-tag")
    def _start(self) -> None:
        self.action_start()

    @on(Input.Changed, "#capture-tag")
    def _tag_changed(self) -> None:
        self.query_one("#capture-tag-error", Static).update("")

    def action_back(self) -> None:
        if self.running:
            # Leaving would cancel the worker mid-push; the capture records nothing, but say so first.
            self.notify("A capture is running; wait for it to finish.", severity="warning")
            return
        self.app.pop_screen()

    # -- the capture ----------------------------------------------------------------------

    @work(exclusive=True, group="capture", exit_on_error=False)
    async def run_capture(self, tag: str, push: bool, with_db: bool, build: bool = False) -> None:
        try:
            # transport=None: the capture opens and closes its own connection for the upload.
            result = await capture_release(
                self.config, tag, push=push, with_db=with_db, reporter=self._reporter, build=build
            )
        except BadCaptureInput as exc:
            self._show_error(f"Cannot capture {tag}: {exc}")
        except CaptureError as exc:
            self._show_error(f"Capture of {tag} failed, nothing recorded: {exc}")
        except OSError as exc:
            self._show_error(f"Capture of {tag} failed, nothing recorded: {exc.strerror or exc}: {exc.filename or ''}")
        except BaseException as exc:
            self._show_error(f"Capture of {tag} stopped, nothing recorded: {type(exc).__name__}")
            raise  # ConsoleScreen's Worker.StateChanged handler notifies it too
        else:
            self._show_result(result)
        finally:
            self.running = False
            self._flush()
            self.query_one("#capture-start", Button).disabled = False

    def _reset(self) -> None:
        self._reporter = ScreenReporter()
        self.result = None
        self.error = None
        self._bars = {}
        self.query_one("#capture-progress", Vertical).remove_children()
        self.query_one("#capture-log", Log).clear()
        box = self.query_one("#capture-result", Static)
        box.update("")
        box.set_classes("")

    def _flush(self) -> None:
        lines, images, uploads = self._reporter.drain()
        if lines:
            self.query_one("#capture-log", Log).write_lines(lines)
        if self.result is not None:
            return  # the bars already show the finished capture
        for name, (done, total) in (images or {}).items():
            self._bar(f"image {name}", done, total)
        for name, (done, total) in (uploads or {}).items():
            self._bar(f"upload {name}", done, total)

    def _bar(self, label: str, done: int, total: int) -> None:
        bar = self._bars.get(label)
        if bar is None:
            bar = ProgressBar(show_eta=False, id=f"capture-bar-{len(self._bars)}")
            self._bars[label] = bar
            self.query_one("#capture-progress", Vertical).mount(
                Horizontal(Label(label[:38]), bar, classes="capture--bar")
            )
        bar.update(total=max(total, 1) if total or done else None, progress=done)

    def _show_error(self, message: str) -> None:
        self.error = message
        box = self.query_one("#capture-result", Static)
        box.set_classes("-error")
        box.update(message)

    def _show_result(self, result: CaptureResult) -> None:
        self._flush()
        self.result = result
        for bar in self._bars.values():  # captured: every push and upload finished
            bar.update(total=bar.total or 1, progress=bar.total or 1)
        record = result.record
        lines = [
            f"Captured {result.tag}: pushed={record.get('pushed')} verified={result.verified} "
            f"migration_head={record.get('migration_head')}"
        ]
        lines += [f"  {sha}  {name}" for name, sha in result.files.items()]
        for name, image in (record.get("images") or {}).items():
            lines.append(f"  {name}: {image.get('digest') or image.get('ref') or '(no digest)'}")
        lines += [f"  warning: {w}" for w in result.warnings]
        wanted_db = record.get("db_check") != "skipped"
        if wanted_db and not result.verified:
            lines.append("Recorded, but the database snapshot is NOT verified.")
        box = self.query_one("#capture-result", Static)
        box.set_classes("-ok" if result.verified or not wanted_db else "-unverified")
        box.update("\n".join(lines))
