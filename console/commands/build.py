"""Image builds through the docker CLI, as argv lists (``capture --build``).

``docker buildx build`` where buildx exists (BuildKit: ``RUN --mount``,
``# syntax=``), else ``docker compose build`` (v2 builds with BuildKit too),
else the legacy ``docker build`` (``DOCKER_BUILDKIT=0``; docker-compose v1
builds with that same legacy builder, so it is not a step of its own).
``--platform`` comes from the target host's architecture: an arm64 laptop
builds images an amd64 VPS can run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from console.commands.base import argv, docker
from console.validate import UnsafeValue

BUILDX, COMPOSE_V2, LEGACY = "buildx", "compose", "legacy"


def buildx_available() -> list[str]:
    return docker("buildx", "version")


def compose_v2_available() -> list[str]:
    return docker("compose", "version")


def docker_cli_available() -> list[str]:
    return docker("version", "--format", "{{.Client.Version}}")


def _platform(platform: str | None) -> list[str]:
    if platform is None:
        return []
    if not platform.startswith("linux/") or any(c.isspace() for c in platform):
        raise UnsafeValue(f"refusing platform {platform!r}: expected linux/<arch>")
    return ["--platform", platform]


def _image_args(tag: str, dockerfile: str, args: Iterable[tuple[str, str]], target: str | None) -> list[str]:
    out = ["-t", tag, "-f", dockerfile]
    for name, value in args:
        out += ["--build-arg", f"{name}={value}"]
    if target:
        out += ["--target", target]
    return out


def buildx_build(
    tag: str,
    context: str,
    dockerfile: str,
    args: Sequence[tuple[str, str]] = (),
    target: str | None = None,
    platform: str | None = None,
) -> list[str]:
    """BuildKit through buildx; ``--load`` puts the image in the local daemon for tag/push/save."""
    return docker(
        "buildx",
        "build",
        "--load",
        "--progress=plain",
        _platform(platform),
        _image_args(tag, dockerfile, args, target),
        "--",
        context,
    )


def legacy_build(
    tag: str,
    context: str,
    dockerfile: str,
    args: Sequence[tuple[str, str]] = (),
    target: str | None = None,
    platform: str | None = None,
) -> list[str]:
    """The classic builder (run with ``DOCKER_BUILDKIT=0``): no ``RUN --mount``, no ``# syntax=``."""
    return docker(
        "build", "--rm", "--force-rm", _platform(platform), _image_args(tag, dockerfile, args, target), "--", context
    )


def compose_build(
    project_name: str, project_dir: str, compose_files: Sequence[str], services: Sequence[str]
) -> list[str]:
    """``docker compose build`` of the named services (platform via ``DOCKER_DEFAULT_PLATFORM``)."""
    files = [part for name in compose_files for part in ("-f", name)]
    if not services:
        raise UnsafeValue("refusing to build: name at least one service")
    return argv(
        "docker",
        "compose",
        "-p",
        project_name,
        files,
        "--project-directory",
        project_dir,
        "build",
        "--",
        list(services),
    )


def build_env(builder: str, platform: str | None) -> dict[str, str]:
    """Environment the build command needs on top of the caller's."""
    env = {"DOCKER_BUILDKIT": "0"} if builder == LEGACY else {"DOCKER_BUILDKIT": "1"}
    if builder == COMPOSE_V2 and platform:
        env["DOCKER_DEFAULT_PLATFORM"] = platform
    return env
