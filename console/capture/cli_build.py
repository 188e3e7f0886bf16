"""Run ``capture --build`` through the docker CLI (see :mod:`console.commands.build`).

The builder is chosen once per capture from what this machine has: buildx,
then compose v2, then the legacy builder, which is named in the output
because BuildKit features (``RUN --mount``, ``# syntax=``) fail there. With
no docker CLI at all, the docker SDK builds (the legacy builder again, and
said so). Output lines stream to the reporter as the build prints them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import docker.errors
import requests

from console.capture.build import BUILD_TIMEOUT, ImageBuild
from console.capture.build import build_images as sdk_build_images
from console.capture.errors import CaptureError
from console.commands import build as cmd

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|[\x00-\x08\x0b-\x1f\x7f\x9b]")


@dataclass(frozen=True)
class Builder:
    kind: str  # cmd.BUILDX | cmd.COMPOSE_V2 | cmd.LEGACY | "sdk"
    note: str  # what the output says about it


def _ok(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose_builder(probe: Callable[[list[str]], bool] = _ok, which=shutil.which) -> Builder:
    if not which("docker") or not probe(cmd.docker_cli_available()):
        return Builder(
            "sdk",
            "no docker CLI here: building through the docker API with the legacy "
            "builder (no BuildKit: RUN --mount and # syntax= will fail)",
        )
    if probe(cmd.buildx_available()):
        return Builder(cmd.BUILDX, "building with docker buildx (BuildKit)")
    if probe(cmd.compose_v2_available()):
        return Builder(cmd.COMPOSE_V2, "no docker buildx here: building with docker compose build (BuildKit)")
    return Builder(
        cmd.LEGACY,
        "no docker buildx or compose v2 here: building with the legacy builder "
        "(docker build, no BuildKit: RUN --mount and # syntax= will fail)",
    )


def build_argv(builder: str, build: ImageBuild, platform: str | None) -> list[str]:
    make = cmd.buildx_build if builder == cmd.BUILDX else cmd.legacy_build
    return make(build.tag, str(build.context), str(build.dockerfile), build.spec.args, build.spec.target, platform)


def run_build(
    argv: list[str], env: dict[str, str], tag: str, on_line: Callable[[str], None], cwd: str | None = None
) -> None:
    """Run one build command, streaming its lines; a non-zero exit is a :class:`CaptureError`."""
    try:
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, **env},
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        raise CaptureError(f"cannot start the build of {tag}: {exc.strerror or exc}") from None
    last: list[str] = []
    assert process.stdout is not None
    for raw in process.stdout:
        line = _ANSI.sub("", raw.rstrip("\n").rsplit("\r", 1)[-1]).rstrip()
        if line:
            last = (last + [line])[-3:]
            on_line(line[:2000])
    try:
        status = process.wait(timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise CaptureError(f"build of {tag} timed out") from None
    if status != 0:
        said = last[-1][:300] if last else "no output"
        raise CaptureError(f"build of {tag} failed (exit {status}): {said}")


def build_images(
    client,
    builds: list[ImageBuild],
    report,
    *,
    platform: str | None = None,
    builder: Builder | None = None,
    compose=None,
    images_by_service=None,
) -> dict[str, str]:
    """Build every image; returns tag -> image id (read through the SDK).

    ``compose`` (project name, source dir, compose files) is needed for the compose v2 builder,
    ``images_by_service`` (service -> the image name compose gives its build) to tag its result.
    """
    builder = builder or choose_builder()
    report.step(builder.note + (f", for {platform}" if platform else ""))
    if builder.kind == "sdk":
        return sdk_build_images(client, builds, report)
    built: dict[str, str] = {}
    if builder.kind == cmd.COMPOSE_V2 and compose is not None and images_by_service is not None:
        project, source_dir, files = compose
        services = [b.spec.service for b in builds]
        report.step(f"building {', '.join(services)} with docker compose build")
        run_build(
            cmd.compose_build(project, source_dir, files, services),
            cmd.build_env(builder.kind, platform),
            ", ".join(services),
            lambda line: report.build_output(builds[0].tag, line),
            cwd=source_dir,
        )
        for b in builds:
            image = client.images.get(images_by_service[b.spec.service])
            repository, _, tag = b.tag.rpartition(":")
            image.tag(repository, tag)
            built[b.tag] = image.id
            report.step(f"built {b.tag} ({image.id[:19]})")
        return built
    kind = cmd.LEGACY if builder.kind == cmd.COMPOSE_V2 else builder.kind
    for b in builds:
        report.step(f"building {b.tag} from {b.spec.context}")
        run_build(
            build_argv(kind, b, platform), cmd.build_env(kind, platform), b.tag, partial(report.build_output, b.tag)
        )
        try:
            built[b.tag] = client.images.get(b.tag).id
        except (docker.errors.DockerException, requests.RequestException) as exc:  # the build left no image
            raise CaptureError(
                f"the build of {b.tag} ended without an image tagged {b.tag} ({type(exc).__name__})"
            ) from None
        report.step(f"built {b.tag} ({built[b.tag][:19]})")
    return built
