"""Capture a release (runbook section 1), recording it only when everything is in place.

Order matters: images are built (with ``build=True``), tagged, pushed and
saved, the bundle and database snapshot are written to a staging directory,
all artifacts are uploaded and proven on the host, and only then are the local
files moved into place, SHA256SUMS.txt appended and the release record written
(atomically, last). A capture that fails at any point leaves no release record,
and never overwrites a file SHA256SUMS.txt already vouches for.
"""

from __future__ import annotations

import asyncio
import calendar
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from console.capture import build as build_mod
from console.capture import bundle as bundle_mod
from console.capture import database, images
from console.capture.checksums import append_local_sums, check_local_sums, sha256_file
from console.capture.compose_pin import pin_compose_files
from console.capture.errors import BadCaptureInput, CaptureError
from console.capture.reporter import CaptureReporter  # noqa: F401  (re-exported: its old home)
from console.capture.upload import upload_artifacts
from console.commands import artifacts as art
from console.config import Config
from console.release.release_log import ReleaseLog, ReleaseLogError, rfc3339
from console.secrets import Secret, SecretUnavailable
from console.validate import UnsafeValue, require_tag


def artifact_names(tag: str) -> dict[str, str]:
    require_tag(tag)
    return {"bundle": f"{tag}-compose.tar.gz", "images": f"{tag}-images.tar", "db": f"{tag}-db.dump"}


@dataclass
class CaptureResult:
    tag: str
    record: dict[str, Any]
    files: dict[str, str]  # name -> sha256
    local_paths: dict[str, Path]
    remote_paths: dict[str, str]
    verification: database.DumpVerification | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.record.get("verified"))


def _database_secret(config: Config, required: bool) -> Secret | None:
    ref = config.capture.database_url
    if ref is None:
        if required:
            raise BadCaptureInput("capture.database_url is not configured: set it, or pass --skip-db")
        return None
    try:
        return ref.resolve()
    except SecretUnavailable as exc:
        if required:
            raise BadCaptureInput(f"capture.database_url ({ref!r}): {exc}; export it, or pass --skip-db") from None
        return None


async def capture_release(
    config: Config,
    tag: str,
    *,
    push: bool = True,
    with_db: bool = True,
    reporter: CaptureReporter | None = None,
    transport=None,
    source_tag: str = "latest",
    build: bool = False,
) -> CaptureResult:
    """Capture ``tag``: see the module docstring. With ``build``, first build every service's
    ``<image>:<source_tag>`` from its compose ``build:`` context (runbook section 4, step 3).
    Raises :class:`CaptureError` (:class:`BadCaptureInput` for a wrong request) and records
    nothing on failure."""
    report = reporter or CaptureReporter()
    try:
        names = artifact_names(tag)
        for service in config.services:
            art.image_ref(config.registry.url, service.image, tag)
    except UnsafeValue as exc:
        raise BadCaptureInput(str(exc)) from None
    _require_new_tag(config, tag)
    model = None
    if build:
        from console.capture.compose_model import compose_model

        model = compose_model(config, BadCaptureInput)
        report.step(
            f"compose model: resolved by {model.source}"
            if not model.note
            else f"compose model: the console's own parse of {', '.join(config.capture.compose_files)} ({model.note})"
        )
        builds = build_mod.plan_builds(
            model.document, Path(config.capture.source_dir), {s.name: s.image for s in config.services}, source_tag
        )
    else:
        builds = []
    db_secret = _database_secret(config, required=with_db)
    auth = images.registry_auth(config) if push else None

    out_dir = Path(config.capture.local_artifacts_dir)
    staging = out_dir / f".capture-{tag}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, mode=0o700)
    captured_at = rfc3339()
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        report.warning(message)

    try:
        client = await asyncio.to_thread(images.docker_client)
        if builds:
            assert model is not None  # builds are planned from the model
            from console.capture import cli_build

            platform = await _host_platform(config, transport, warn)
            report.step(f"building {len(builds)} images from {config.capture.source_dir}")
            services = model.document.get("services") or {}
            by_service = {
                b.spec.service: (services.get(b.spec.service) or {}).get("image")
                or f"{config.target.project_name}-{b.spec.service}"
                for b in builds
            }
            await asyncio.to_thread(
                cli_build.build_images,
                client,
                builds,
                report,
                platform=platform,
                compose=(
                    config.target.project_name,
                    str(Path(config.capture.source_dir).resolve()),
                    list(config.capture.compose_files),
                ),
                images_by_service=by_service,
            )
        report.step(f"tagging images as {config.registry.url}/<image>:{tag}")
        release_images = await asyncio.to_thread(images.tag_release_images, client, config, tag, source_tag)
        if push:
            pushed = []
            for image in release_images:
                report.step(f"pushing {image.ref}")
                image = await asyncio.to_thread(
                    images.push_image, client, image, config.registry.url, report.push_progress, auth
                )
                report.step(f"pushed {image.ref} ({image.digest})")
                pushed.append(image)
            release_images = pushed
        paths = {key: staging / name for key, name in names.items()}
        report.step(f"saving images to {names['images']}")
        await asyncio.to_thread(images.save_images, client, [i.ref for i in release_images], paths["images"])

        report.step(f"archiving the compose bundle {names['bundle']}")
        await asyncio.to_thread(_write_bundle, config, release_images, paths["bundle"], captured_at)

        verification = None
        migration_head = None
        if db_secret is not None:
            tools = database.PostgresTools(db_secret)
            migration_head = await asyncio.to_thread(_migration_head, tools, warn)
            if with_db:
                verification = await asyncio.to_thread(_snapshot, tools, paths["db"], report)
                if not verification.verified:
                    warn(f"database snapshot NOT verified: {verification.summary}")
        if not with_db:
            paths.pop("db")
            warn("database snapshot skipped (--skip-db): the release is recorded as not verified")

        hashes = {path.name: await asyncio.to_thread(sha256_file, path) for path in paths.values()}
        check_local_sums(out_dir, hashes)

        report.step(f"uploading {len(paths)} artifacts to {config.target.artifacts_dir}")
        remote = await _upload(config, transport, {p.name: p for p in paths.values()}, hashes, report)

        final = {}
        for key, path in paths.items():
            final[key] = out_dir / path.name
            os.replace(path, final[key])
        append_local_sums(out_dir, hashes)
        record = {
            "tag": tag,
            "captured_at": captured_at,
            "migration_head": migration_head,
            "verified": bool(verification and verification.verified),
            "pushed": push,
            "db_check": verification.method if verification else "skipped",
            "images": {i.name: i.record() for i in release_images},
            "files": hashes,
        }
        _write_record(config, record)
        report.step(f"release {tag} recorded in {config.paths.release_log}")
        return CaptureResult(
            tag=tag,
            record=record,
            files=hashes,
            local_paths=final,
            remote_paths=remote,
            verification=verification,
            warnings=warnings,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _require_new_tag(config: Config, tag: str) -> None:
    try:
        log = ReleaseLog.load(config.paths.release_log)
    except ReleaseLogError as exc:
        raise CaptureError(str(exc)) from None
    if log.get(tag) is not None:
        raise BadCaptureInput(f"release {tag} is already in the release log; a tag is captured once (choose a new tag)")


async def _host_platform(config: Config, transport, warn) -> str | None:
    """The docker platform of the target host (``uname -m``, asked once per run)."""
    from console.engine.incident import make_transport
    from console.failures import TransportError
    from console.host_facts import probe_host

    own = transport is None
    link = make_transport(config) if own else transport
    try:
        await link.connect()
        facts = await probe_host(link, config.target)
    except TransportError as exc:
        warn(f"cannot ask the host its architecture ({exc}): building for this machine's")
        return None
    finally:
        if own:
            await link.close()
    if facts is None or facts.platform is None:
        warn("the host did not say its architecture: building for this machine's")
        return None
    return facts.platform


def _write_bundle(config: Config, release_images: list[images.ReleaseImage], path: Path, captured_at: str) -> None:
    from console.capture.compose_model import read_compose_files

    texts = read_compose_files(config)
    refs = {i.name: i.ref for i in release_images}
    swarm = getattr(config.target, "engine", "compose") == "swarm"
    if swarm:  # the bundle's compose files are the stack files (console.capture.stack_file)
        from console.capture.stack_file import check_stack_files, stack_refs

        refs = stack_refs(release_images)
    pinned = pin_compose_files(texts, refs, {s.name: s.image for s in config.services})
    if swarm:
        check_stack_files(pinned)
    entries = bundle_mod.bundle_entries(config.capture, {name: text.encode("utf-8") for name, text in pinned.items()})
    mtime = calendar.timegm(time.strptime(captured_at, "%Y-%m-%dT%H:%M:%SZ"))
    bundle_mod.write_bundle(entries, path, mtime)


def _migration_head(tools: database.PostgresTools, warn) -> str | None:
    try:
        return tools.migration_head()
    except CaptureError as exc:
        warn(f"migration head unknown: {exc}")
        return None


def _snapshot(tools: database.PostgresTools, path: Path, report: CaptureReporter) -> database.DumpVerification:
    report.step("dumping the database (pg_dump --format=custom)")
    database.dump_database(tools, path)
    source_counts = tools.row_counts()
    report.step(f"verifying the snapshot: restore into a scratch database, compare {len(source_counts)} tables")
    result = database.verify_dump(tools, path, source_counts)
    if result.verified:
        report.step(f"snapshot verified: {result.summary}")
    return result


async def _upload(
    config: Config, transport, files: dict[str, Path], hashes: dict[str, str], report: CaptureReporter
) -> dict[str, str]:
    """Upload to every target that needs the release (console.capture.targets); production's
    remote paths are returned. ``transport`` (if given) is production's; staging opens its own."""
    from console.capture.targets import upload_targets

    targets = upload_targets(config)
    for label, aimed in targets[1:]:
        report.step(
            f"uploading {len(files)} artifacts to {label} "
            f"{aimed.target.host}:{aimed.target.port}:{aimed.target.artifacts_dir}"
        )
    # every host at once (a fleet): each upload is resumed, then proven by its own SHA256 check
    results = await asyncio.gather(
        *(
            _upload_to(aimed, transport if label == "production" else None, files, hashes, report, label)
            for label, aimed in targets
        ),
        return_exceptions=True,
    )
    failed = []
    for (label, _), result in zip(targets, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
        if isinstance(result, Exception):
            failed.append((label, result))
    if failed:
        if len(failed) == 1 and len(targets) == 1:
            raise failed[0][1]
        raise CaptureError("; ".join(f"{label}: {exc}" for label, exc in failed))
    return cast("dict[str, str]", results[0])


async def _upload_to(
    config: Config, transport, files: dict[str, Path], hashes: dict[str, str], report: CaptureReporter, label: str
) -> dict[str, str]:
    from console.engine.incident import make_transport
    from console.failures import TransportError

    own = transport is None
    if own:
        transport = make_transport(config)
    try:
        try:
            await transport.connect()
        except TransportError as exc:
            where = "the host" if label == "production" else f"the {label} host"
            raise CaptureError(f"cannot reach {where}: {exc}") from None
        return await upload_artifacts(transport, config.target.artifacts_dir, files, hashes, report.upload_progress)
    finally:
        if own:
            await transport.close()


def _write_record(config: Config, record: dict[str, Any]) -> None:
    # Re-read: an incident may have changed the log while images were pushing.
    try:
        log = ReleaseLog.load(config.paths.release_log)
        log.add_release(record)
        log.save()
    except ReleaseLogError as exc:
        raise CaptureError(f"release log not updated: {exc}") from None
    except OSError as exc:
        raise CaptureError(f"release log not updated: {exc.strerror or exc}") from None
