"""capture --build's docker CLI builders (argv only) and the builder choice."""

import shlex

import pytest

from console.capture import cli_build
from console.commands import build as cmd
from console.validate import UnsafeValue


def test_buildx_build_loads_the_image_for_the_hosts_platform():
    argv = cmd.buildx_build(
        "mr-dj-backend:latest",
        "/src/backend",
        "/src/backend/Dockerfile",
        (("RELEASE", "v3"),),
        "runtime",
        "linux/amd64",
    )
    assert shlex.join(argv) == (
        "docker buildx build --load --progress=plain --platform linux/amd64 "
        "-t mr-dj-backend:latest -f /src/backend/Dockerfile --build-arg RELEASE=v3 "
        "--target runtime -- /src/backend"
    )


def test_legacy_build_without_platform():
    argv = cmd.legacy_build("web:latest", "/src", "/src/Dockerfile")
    assert shlex.join(argv) == "docker build --rm --force-rm -t web:latest -f /src/Dockerfile -- /src"


def test_compose_build_names_files_and_services():
    argv = cmd.compose_build("shop", "/src", ["compose.yaml", "compose.override.yaml"], ["web", "worker"])
    assert shlex.join(argv) == (
        "docker compose -p shop -f compose.yaml -f compose.override.yaml --project-directory /src build -- web worker"
    )
    with pytest.raises(UnsafeValue):
        cmd.compose_build("shop", "/src", ["compose.yaml"], [])


def test_build_env_turns_buildkit_off_only_for_the_legacy_builder():
    assert cmd.build_env(cmd.LEGACY, "linux/amd64") == {"DOCKER_BUILDKIT": "0"}
    assert cmd.build_env(cmd.BUILDX, None) == {"DOCKER_BUILDKIT": "1"}
    assert cmd.build_env(cmd.COMPOSE_V2, "linux/arm64") == {
        "DOCKER_BUILDKIT": "1",
        "DOCKER_DEFAULT_PLATFORM": "linux/arm64",
    }


def test_platform_is_validated():
    with pytest.raises(UnsafeValue):
        cmd.legacy_build("t:1", "/c", "/c/Dockerfile", platform="linux/amd64 --privileged")


@pytest.mark.parametrize(
    "present, kind, says",
    [
        ({"docker", "buildx", "compose"}, cmd.BUILDX, "buildx (BuildKit)"),
        ({"docker", "compose"}, cmd.COMPOSE_V2, "no docker buildx here"),
        ({"docker"}, cmd.LEGACY, "legacy builder"),
        (set(), "sdk", "no docker CLI"),
    ],
)
def test_builder_choice_falls_back_and_says_so(present, kind, says):
    def probe(argv):
        if argv[:2] == ["docker", "version"]:
            return "docker" in present
        return argv[1] in present

    builder = cli_build.choose_builder(probe, which=lambda name: "/usr/bin/docker" if "docker" in present else None)
    assert builder.kind == kind and says in builder.note


def test_a_failed_build_is_a_capture_error_naming_its_last_line():
    from console.capture.errors import CaptureError

    lines = []
    with pytest.raises(CaptureError, match=r"exit 3\): boom"):
        cli_build.run_build(
            ["sh", "-c", "echo step one; printf '\\033[31mboom\\033[0m\\n'; exit 3"], {}, "t:1", lines.append
        )
    assert lines == ["step one", "boom"]


def test_the_hosts_resolved_model_script_takes_names_as_parameters():
    from console.commands.bundle_model import resolved_model

    argv = resolved_model(
        "docker compose", "/opt/artifacts", "v2", ["compose.yaml", "compose.override.yaml"], ["api/.env"]
    )
    assert argv[:2] == ["sh", "-c"] and argv[3:] == [
        "sh",
        "/opt/artifacts/v2-compose.tar.gz",
        "v2",
        "2",
        "compose.yaml",
        "compose.override.yaml",
        "api/.env",
    ]
    assert "config --format json" in argv[2] and "rm -rf" in argv[2]
    assert resolved_model("docker-compose", "/opt/artifacts", "v1", ["docker-compose.yml"])[5:7] == ["v1", "1"]
    for bad in (["a b.yml"], ["*.yml"], ["../x.yml"], ["/etc/x.yml"], ["-f"], []):
        with pytest.raises(UnsafeValue):
            resolved_model("docker compose", "/opt/artifacts", "v2", bad)
