"""Build the release images from the working tree (runbook section 4, step 3): ``capture --build``.

Every configured service is built from the context its compose file names under
``build:`` and tagged ``<image>:<source-tag>``, the local image the capture then
tags and pushes. Only the part of ``build:`` that can be built exactly as
``docker-compose build`` would is accepted: a context (and Dockerfile) inside
``[capture] source_dir``, literal build args and a target. A remote context,
``${VAR}`` interpolation or any other key is refused rather than built differently.

As with pushes, the daemon reports a failed build *inside* the stream, so the
stream is read to its end and its errors raised.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from console.capture.errors import BadCaptureInput, CaptureError
from console.capture.images import stream_error
from console.config import Config
from console.release.composefile import ComposeParseError, parse_compose
from console.validate import UnsafeValue, require_tag

# (one line of build output, colour codes and carriage-return redraws removed)
BuildOutput = Callable[[str], None]

# Seconds the daemon may stay silent during a build (a long RUN step prints nothing).
BUILD_TIMEOUT = 3600
_KEYS = ("context", "dockerfile", "args", "target")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class BuildSpec:
    """A service's ``build:`` section, checked but not yet resolved against the disk."""

    service: str
    context: str  # relative to source_dir, as written
    dockerfile: str | None = None  # relative to the context, as written
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None


@dataclass(frozen=True)
class ImageBuild:
    """One image to build: resolved paths, all inside source_dir."""

    spec: BuildSpec
    tag: str  # "<image>:<source-tag>"
    context: Path
    dockerfile: Path


def _relative(service: str, key: str, value: Any) -> str:
    """``value`` as a relative path that stays where it starts (no ``..``, not absolute)."""
    where = f"service {service}: build{'' if key == 'build' else '.' + key}"
    if not isinstance(value, str) or not value.strip():
        raise BadCaptureInput(f"{where} must be a relative path")
    if "$" in value:
        raise BadCaptureInput(f"{where} uses a ${{VARIABLE}}, which --build does not interpolate")
    if "://" in value or value.startswith(("git@", "github.com/")):
        raise BadCaptureInput(f"{where} is a remote build context; --build only builds from source_dir")
    if value.startswith(("/", "~")):
        raise BadCaptureInput(f"{where} is absolute ({value}); it must be inside source_dir")
    return value


def _args(service: str, args: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(args, list) and all(isinstance(item, str) for item in args):
        pairs = [item.partition("=")[::2] if "=" in item else (item, None) for item in args]
    elif isinstance(args, dict):
        pairs = list(args.items())
    else:
        raise BadCaptureInput(f"service {service}: build.args must be a mapping or a list of NAME=value")
    checked = []
    for name, value in pairs:
        if not _ARG_NAME.fullmatch(str(name)):
            raise BadCaptureInput(f"service {service}: build.args has an invalid name {name!r}")
        if not isinstance(value, str):
            # Compose would take it from the environment: not reproducible, so not guessed at.
            raise BadCaptureInput(f"service {service}: build arg {name} has no value")
        if "$" in value:
            raise BadCaptureInput(
                f"service {service}: build arg {name} uses a ${{VARIABLE}}, which --build does not interpolate"
            )
        checked.append((str(name), value))
    return tuple(checked)


def parse_build(service: str, build: Any) -> BuildSpec:
    """The ``build:`` value of ``service``: ``./backend`` or ``{context:, dockerfile:, args:, target:}``."""
    if build is None:
        raise BadCaptureInput(
            f"service {service} has no build: section in the compose file; --build cannot build its image"
        )
    if isinstance(build, str):
        return BuildSpec(service, _checked_context(service, "build", build))
    if not isinstance(build, dict):
        raise BadCaptureInput(f"service {service}: build: must be a path or a mapping with context:")
    unknown = sorted(set(build) - set(_KEYS))
    if unknown:
        raise BadCaptureInput(
            f"service {service}: build.{unknown[0]} is not supported by --build; "
            "build with docker-compose and capture without --build"
        )
    if "context" not in build:
        raise BadCaptureInput(f"service {service}: build: has no context:")
    context = _checked_context(service, "context", build["context"])
    dockerfile = None
    if build.get("dockerfile") is not None:
        dockerfile = _relative(service, "dockerfile", build["dockerfile"])
        if posixpath.normpath(posixpath.join(context, dockerfile)).split("/")[0] == "..":
            raise BadCaptureInput(f"service {service}: build.dockerfile ({dockerfile}) is outside source_dir")
    target = build.get("target")
    if target is not None and not isinstance(target, str):
        raise BadCaptureInput(f"service {service}: build.target must be a stage name")
    args = _args(service, build["args"]) if build.get("args") is not None else ()
    return BuildSpec(service, context, dockerfile, args, target)


def _checked_context(service: str, key: str, value: Any) -> str:
    context = _relative(service, key, value)
    if ".." in context.split("/"):
        raise BadCaptureInput(f"service {service}: build context {context} goes outside source_dir (..)")
    return context


def plan_builds(compose: str | Any, source_dir: Path, services: dict[str, str], source_tag: str) -> list[ImageBuild]:
    """What to build for ``services`` (compose service -> image name), refusing before any build
    starts a missing ``build:``, a path leaving ``source_dir`` (symlinks included) or a missing file.
    ``compose`` is a compose file's text or an already resolved model."""
    try:
        require_tag(source_tag)
        document = parse_compose(compose) if isinstance(compose, str) else compose
    except UnsafeValue as exc:
        raise BadCaptureInput(f"source tag: {exc}") from None
    except ComposeParseError as exc:
        raise BadCaptureInput(f"compose file not understood ({exc})") from None
    defined = document.get("services") if isinstance(document, dict) else None
    if not isinstance(defined, dict):
        raise BadCaptureInput("compose file has no services: mapping")
    root = Path(source_dir).resolve()
    builds = []
    for service, image in services.items():
        definition = defined.get(service)
        if not isinstance(definition, dict):
            raise BadCaptureInput(f"compose file has no service {service} (named in [[services]])")
        spec = parse_build(service, _relative_to_root(service, definition.get("build"), root))
        context = (root / spec.context).resolve()
        dockerfile = (context / (spec.dockerfile or "Dockerfile")).resolve()
        for path, what in (
            (context, f"build context {spec.context}"),
            (dockerfile, f"Dockerfile {spec.dockerfile or 'Dockerfile'}"),
        ):
            if not path.is_relative_to(root):
                raise BadCaptureInput(f"service {service}: {what} resolves outside source_dir ({path})")
        if not context.is_dir():
            raise BadCaptureInput(f"service {service}: build context {spec.context} is not a directory in {root}")
        if not dockerfile.is_file():
            raise BadCaptureInput(f"service {service}: no Dockerfile at {dockerfile}")
        builds.append(ImageBuild(spec, f"{image}:{source_tag}", context, dockerfile))
    return builds


def _relative_to_root(service: str, build: Any, root: Path) -> Any:
    """A compose CLI's resolved model names contexts by absolute path: make those inside
    source_dir relative again (and drop the keys it fills in with their defaults)."""
    if not isinstance(build, dict) or not isinstance(build.get("context"), str):
        return build
    context = build["context"]
    if not context.startswith("/"):
        return build
    path = Path(context).resolve()
    if not path.is_relative_to(root):
        raise BadCaptureInput(f"service {service}: build context {context} is outside source_dir")
    build = {k: v for k, v in build.items() if v not in (None, {}, [])}
    relative = path.relative_to(root).as_posix()
    build["context"] = f"./{relative}" if relative not in ("", ".") else "."
    dockerfile = build.get("dockerfile")
    if isinstance(dockerfile, str) and dockerfile.startswith("/"):
        build["dockerfile"] = posixpath.relpath(dockerfile, str(path))
    return build


def plan_from_config(config: Config, source_tag: str, report=None) -> list[ImageBuild]:
    from console.capture.compose_model import compose_model

    model = compose_model(config, BadCaptureInput)
    if report is not None:
        if model.note:
            report.step(
                f"compose model: the console's own parse of {', '.join(config.capture.compose_files)} ({model.note})"
            )
        else:
            report.step(f"compose model: resolved by {model.source}")
    return plan_builds(
        model.document, Path(config.capture.source_dir), {s.name: s.image for s in config.services}, source_tag
    )


def read_compose_file(config: Config, error: type[CaptureError] = CaptureError) -> str:
    """The release's first compose file from ``[capture] source_dir``, or ``error`` saying why not."""
    from console.capture.compose_model import read_compose_files

    return next(iter(read_compose_files(config, error).values()))


def _clean(line: str) -> str:
    """A line as a terminal would end up showing it: the last carriage-return redraw, no colour codes."""
    return _ANSI.sub("", line.rstrip("\r").rsplit("\r", 1)[-1]).rstrip()


def read_build_stream(events: Iterable[dict[str, Any]], tag: str, on_line: BuildOutput | None = None) -> str | None:
    """Read a decoded ``/build`` stream to its end: output as whole lines, the built image id
    (``aux.ID``) returned, an ``error``/``errorDetail`` event raised as :class:`CaptureError`."""
    emit = on_line or (lambda line: None)
    pending = ""
    image_id = None
    for event in events:
        error = stream_error(event)
        if error is not None:
            if pending.strip():
                emit(_clean(pending))
            raise CaptureError(f"build of {tag} failed: {_clean(error)[:500]}")
        aux = event.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            image_id = aux["ID"]
        text = event.get("stream")
        if isinstance(text, str):
            *lines, pending = (pending + text).split("\n")
            for line in filter(None, map(_clean, lines)):
                emit(line)
        elif event.get("status") and not (event.get("progressDetail") or {}).get("total"):
            # Pulling a base image: statuses, not every byte of its progress bars.
            emit(f"{event['id']}: {event['status']}" if event.get("id") else str(event["status"]))
    if _clean(pending):
        emit(_clean(pending))
    return image_id


def build_image(client: docker.DockerClient, build: ImageBuild, on_line: BuildOutput | None = None) -> str:
    """Build and tag one image; returns its id (``sha256:...``)."""
    try:
        stream = client.api.build(
            path=str(build.context),
            dockerfile=str(build.dockerfile),
            tag=build.tag,
            rm=True,
            forcerm=True,
            decode=True,
            buildargs=dict(build.spec.args),
            target=build.spec.target,
            timeout=BUILD_TIMEOUT,
        )
        read_build_stream(stream, build.tag, on_line)
        return client.images.get(build.tag).id
    except docker.errors.ImageNotFound:
        raise CaptureError(f"the build of {build.tag} ended without an image tagged {build.tag}") from None
    except docker.errors.APIError as exc:
        raise CaptureError(f"build of {build.tag} failed: {exc.explanation or exc}") from None
    except requests.RequestException as exc:
        raise CaptureError(f"docker daemon connection lost while building {build.tag}: {exc}") from None
    except OSError as exc:
        raise CaptureError(
            f"cannot send the build context {build.spec.context} of {build.tag}: {exc.strerror or exc}"
        ) from None


def build_images(client: docker.DockerClient, builds: list[ImageBuild], report) -> dict[str, str]:
    """Build every image in order, reporting through a CaptureReporter; returns tag -> image id."""
    built = {}
    for build in builds:
        report.step(f"building {build.tag} from {build.spec.context}")
        built[build.tag] = build_image(client, build, partial(report.build_output, build.tag))
        report.step(f"built {build.tag} ({built[build.tag][:19]})")
    return built
