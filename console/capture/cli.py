"""``incident-console capture --tag TAG``: the headless front of :mod:`console.capture.release`.

Exit codes: 0 captured (and the snapshot verified, unless --skip-db), 1 failed or
captured with an unverified snapshot, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading

from console.capture.errors import BadCaptureInput, CaptureError
from console.capture.reporter import CaptureReporter
from console.cli.exit_codes import EXIT_FAILED, EXIT_OK, bad_input  # noqa: E402  (one home for exit codes)
from console.cli.json_lines import json_line


def register_capture(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "capture",
        help="capture a release: optionally build images (--build), push them, "
        "bundle, database snapshot, upload, record (runbook sections 1 and 4)",
        description="Capture release TAG from the local <image>:<source-tag> images: tag and push "
        "them, bundle the compose and env files, snapshot the database, upload and "
        "record. With --build, first build those images from the build: contexts of "
        "the compose file in [capture] source_dir (runbook section 4, step 3).",
    )
    p.add_argument("--tag", required=True, metavar="TAG", help="the release tag to capture (e.g. v3)")
    p.add_argument("--skip-db", action="store_true", help="no database snapshot (the release is not verified)")
    p.add_argument(
        "--no-push", action="store_true", help="do not push to the registry; the host will load the images tarball"
    )
    p.add_argument(
        "--source-tag",
        default="latest",
        metavar="TAG",
        help="tag of the locally built images to capture (default: latest)",
    )
    p.add_argument(
        "--build",
        action="store_true",
        help="first build every service's image from the build: context of the compose file in "
        "[capture] source_dir, tagged <image>:<source-tag>",
    )
    p.add_argument("--json", action="store_true", help="print one JSON event per line")
    p.set_defaults(handler=cmd_capture)


class PrintingReporter(CaptureReporter):
    """Prints stages and coalesced progress: one line per layer status change, not per byte."""

    def __init__(self, as_json: bool, out=None) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self._lock = threading.Lock()
        self._layer_status: dict[tuple[str, str | None], str] = {}
        self._upload_decile: dict[str, int] = {}

    def _emit(self, event: str, text: str, **fields) -> None:
        with self._lock:
            if self.as_json:
                print(json_line({"event": event, "message": text, **fields}), file=self.out, flush=True)
            else:
                print(text, file=self.out, flush=True)

    def step(self, message: str) -> None:
        self._emit("step", message)

    def warning(self, message: str) -> None:
        self._emit("warning", f"WARNING: {message}")

    def push_progress(self, image, layer, status, current, total) -> None:
        key = (image, layer)
        if self._layer_status.get(key) == status:
            return
        self._layer_status[key] = status
        size = f" ({total} bytes)" if total else ""
        self._emit(
            "push",
            f"  {image} {layer + ': ' if layer else ''}{status}{size}",
            image=image,
            layer=layer,
            status=status,
            current=current,
            total=total,
        )

    def build_output(self, image: str, line: str) -> None:
        self._emit("build", f"  {line}", image=image, line=line)

    def upload_progress(self, name: str, done: int, total: int) -> None:
        decile = 10 if total == 0 else done * 10 // total
        if self._upload_decile.get(name) == decile:
            return
        self._upload_decile[name] = decile
        self._emit("upload", f"  {name}: {done}/{total} bytes ({decile * 10}%)", file=name, done=done, total=total)


def cmd_capture(args) -> int:
    from console.cli.config_loader import load_config_or_exit

    config = load_config_or_exit(args.config)
    reporter = PrintingReporter(args.json)
    # the docker SDK comes with the capture code: imported when a capture runs, not at every CLI start
    from console.capture.release import capture_release

    try:
        result = asyncio.run(
            capture_release(
                config,
                args.tag,
                push=not args.no_push,
                with_db=not args.skip_db,
                reporter=reporter,
                source_tag=args.source_tag,
                build=args.build,
            )
        )
    except BadCaptureInput as exc:
        return bad_input(str(exc))
    except CaptureError as exc:
        print(f"incident-console: capture of {args.tag} failed, nothing recorded: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(
            f"incident-console: capture of {args.tag} failed, nothing recorded: "
            f"{exc.strerror or exc}: {exc.filename or ''}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    record = result.record
    if args.json:
        print(json_line({"event": "captured", "release": record}), flush=True)
    else:
        print(
            f"captured {record['tag']}: pushed={record['pushed']} verified={record['verified']} "
            f"migration_head={record.get('migration_head')}"
        )
        for name, sha in record["files"].items():
            print(f"  {sha}  {name}")
    if not args.skip_db and not result.verified:
        print(f"incident-console: {args.tag} recorded, but its database snapshot is NOT verified", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
