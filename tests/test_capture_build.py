"""`capture --build`: reading build contexts from the compose file, refusing what leaves source_dir,
reading the build stream (no docker daemon, no network). The real build is in tests/test_capture_sandbox.py."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import docker.errors
import pytest

from console.capture.build import BuildSpec, build_image, build_images, parse_build, plan_builds, read_build_stream
from console.capture.cli import PrintingReporter
from console.capture.errors import BadCaptureInput, CaptureError
from console.cli.main import main
from tests.test_capture_cli import CONFIG as CLI_CONFIG

COMPOSE = """\
services:
  mr-dj-backend:
    build: ./backend
    image: mr-dj-backend:latest
  mr-dj-frontend:
    build:
      context: frontend
      dockerfile: docker/Dockerfile.prod   # relative to the context
      args:
        RELEASE: v3
      target: runtime
  cache:
    image: redis:7
"""
SERVICES = {"mr-dj-backend": "mr-dj-backend", "mr-dj-frontend": "mr-dj-frontend"}


def source_tree(root: Path, compose: str = COMPOSE) -> Path:
    (root / "backend").mkdir(parents=True)
    (root / "backend" / "Dockerfile").write_text("FROM scratch\n")
    (root / "frontend" / "docker").mkdir(parents=True)
    (root / "frontend" / "docker" / "Dockerfile.prod").write_text("FROM scratch AS runtime\n")
    (root / "docker-compose.yml").write_text(compose)
    return root


# -- the build: section ---------------------------------------------------------------------------


def test_string_and_mapping_forms():
    assert parse_build("b", "./backend") == BuildSpec("b", "./backend")
    assert parse_build(
        "f", {"context": ".", "dockerfile": "Dockerfile.prod", "args": ["A=1", "B=x=y"], "target": "runtime"}
    ) == BuildSpec("f", ".", "Dockerfile.prod", (("A", "1"), ("B", "x=y")), "runtime")
    assert parse_build("f", {"context": "web", "args": {"RELEASE": "v3"}}).args == (("RELEASE", "v3"),)


@pytest.mark.parametrize(
    "build, message",
    [
        (None, "service svc has no build: section"),
        ("/srv/app", "absolute"),
        ("~/app", "absolute"),
        ("../elsewhere", "outside source_dir"),
        ("backend/../../x", "outside source_dir"),
        ({"context": "/srv/app"}, "absolute"),
        ({"context": "web", "dockerfile": "/etc/Dockerfile"}, "absolute"),
        ({"context": "web", "dockerfile": "../../Dockerfile"}, "outside source_dir"),
        ("https://github.com/x/y.git", "remote build context"),
        ("git@github.com:x/y.git", "remote build context"),
        ("${APP_DIR}", "VARIABLE"),
        ({"dockerfile": "Dockerfile"}, "has no context"),
        ({"context": "web", "cache_from": ["x"]}, "build.cache_from is not supported"),
        ({"context": "web", "args": ["TOKEN"]}, "build arg TOKEN has no value"),
        ({"context": "web", "args": {"V": "${VERSION}"}}, "VARIABLE"),
        ({"context": "web", "args": {"not valid": "1"}}, "invalid name"),
        (["web"], "must be a path or a mapping"),
        ("", "relative path"),
    ],
)
def test_refused_build_sections_name_the_service(build, message):
    with pytest.raises(BadCaptureInput, match="service svc") as caught:
        parse_build("svc", build)
    assert message in str(caught.value)


def test_dockerfile_may_leave_its_context_but_not_source_dir():
    spec = parse_build("f", {"context": "frontend", "dockerfile": "../docker/frontend.Dockerfile"})
    assert spec.dockerfile == "../docker/frontend.Dockerfile"


# -- the plan: paths resolved against source_dir --------------------------------------------------


def test_plan_resolves_contexts_and_tags_with_the_source_tag(tmp_path):
    root = source_tree(tmp_path / "src")
    backend, frontend = plan_builds(COMPOSE, root, SERVICES, "buildtest")
    assert backend.tag == "mr-dj-backend:buildtest"
    assert backend.context == (root / "backend").resolve()
    assert backend.dockerfile == (root / "backend" / "Dockerfile").resolve()
    assert frontend.tag == "mr-dj-frontend:buildtest"
    assert frontend.dockerfile == (root / "frontend" / "docker" / "Dockerfile.prod").resolve()
    assert frontend.spec.args == (("RELEASE", "v3"),) and frontend.spec.target == "runtime"


def test_a_configured_service_without_build_is_refused_by_name(tmp_path):
    root = source_tree(tmp_path / "src")
    with pytest.raises(BadCaptureInput, match="service cache has no build: section"):
        plan_builds(COMPOSE, root, {**SERVICES, "cache": "redis"}, "latest")
    with pytest.raises(BadCaptureInput, match="compose file has no service worker"):
        plan_builds(COMPOSE, root, {"worker": "worker"}, "latest")


def test_a_symlink_out_of_source_dir_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM scratch\n")
    root = source_tree(tmp_path / "src")
    (root / "linked").symlink_to(outside)
    compose = "services:\n  mr-dj-backend:\n    build: ./linked\n"
    with pytest.raises(BadCaptureInput, match="resolves outside source_dir"):
        plan_builds(compose, root, {"mr-dj-backend": "mr-dj-backend"}, "latest")


def test_missing_context_or_dockerfile_and_bad_source_tag_are_refused(tmp_path):
    root = source_tree(tmp_path / "src")
    one = {"mr-dj-backend": "mr-dj-backend"}
    with pytest.raises(BadCaptureInput, match="build context ./api is not a directory"):
        plan_builds("services:\n  mr-dj-backend:\n    build: ./api\n", root, one, "latest")
    with pytest.raises(BadCaptureInput, match="no Dockerfile at"):
        plan_builds("services:\n  mr-dj-backend:\n    build: ./frontend\n", root, one, "latest")
    with pytest.raises(BadCaptureInput, match="source tag"):
        plan_builds(COMPOSE, root, one, "la test")
    with pytest.raises(BadCaptureInput, match="compose file not understood"):
        plan_builds("services:\n  a: *undefined\n", root, one, "latest")


# -- the build stream -----------------------------------------------------------------------------


def test_stream_is_split_into_clean_lines_and_returns_the_image_id():
    lines = []
    events = [
        {"stream": "Step 1/2 : FROM scratch\n ---> "},
        {"stream": "abc\n"},
        {"status": "Pulling fs layer", "id": "1234"},
        {"status": "Downloading", "id": "1234", "progressDetail": {"current": 5, "total": 10}},
        {"stream": "\x1b[32mok\x1b[0m\n10%\r50%\r100%\n\n"},
        {"aux": {"ID": "sha256:" + "a" * 64}},
        {"stream": "Successfully built aaaaaaaaaaaa"},
    ]
    assert read_build_stream(events, "x:latest", lines.append) == "sha256:" + "a" * 64
    assert lines == [
        "Step 1/2 : FROM scratch",
        " ---> abc",
        "1234: Pulling fs layer",
        "ok",
        "100%",
        "Successfully built aaaaaaaaaaaa",
    ]


def test_an_error_event_raises_after_the_output_before_it():
    lines = []
    events = [
        {"stream": "Step 2/2 : COPY missing /\n"},
        {"errorDetail": {"message": "COPY failed: no such file"}, "error": "COPY failed: no such file"},
        {"stream": "never read\n"},
    ]
    with pytest.raises(CaptureError, match="build of x:latest failed: COPY failed: no such file"):
        read_build_stream(events, "x:latest", lines.append)
    assert lines == ["Step 2/2 : COPY missing /"]


class FakeDocker:
    def __init__(self, events=(), error=None):
        self.calls = []

        def build(**kwargs):
            self.calls.append(kwargs)
            if error is not None:
                raise error
            return iter(events)

        self.api = SimpleNamespace(build=build)
        self.images = SimpleNamespace(get=lambda ref: SimpleNamespace(id="sha256:" + "b" * 64))


def test_build_image_passes_the_plan_to_the_daemon(tmp_path):
    root = source_tree(tmp_path / "src")
    _, frontend = plan_builds(COMPOSE, root, SERVICES, "latest")
    client = FakeDocker([{"stream": "done\n"}])
    assert build_image(client, frontend) == "sha256:" + "b" * 64
    call = client.calls[0]
    assert call["path"] == str(frontend.context) and call["dockerfile"] == str(frontend.dockerfile)
    assert call["tag"] == "mr-dj-frontend:latest" and call["decode"] is True
    assert call["buildargs"] == {"RELEASE": "v3"} and call["target"] == "runtime"


def test_daemon_refusal_is_a_capture_error(tmp_path):
    root = source_tree(tmp_path / "src")
    backend, _ = plan_builds(COMPOSE, root, SERVICES, "latest")
    client = FakeDocker(error=docker.errors.APIError("500", explanation="Cannot locate specified Dockerfile"))
    with pytest.raises(CaptureError, match="build of mr-dj-backend:latest failed: Cannot locate"):
        build_image(client, backend)


def test_build_images_reports_steps_and_output_lines(tmp_path):
    root = source_tree(tmp_path / "src")
    out = io.StringIO()
    builds = plan_builds(COMPOSE, root, SERVICES, "latest")
    build_images(FakeDocker([{"stream": "Step 1/1 : FROM scratch\n"}]), builds, PrintingReporter(True, out))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["step", "build", "step", "step", "build", "step"]
    assert events[0]["message"] == "building mr-dj-backend:latest from ./backend"
    assert {k: v for k, v in events[1].items() if k not in ("v", "ts")} == {
        "event": "build",
        "message": "  Step 1/1 : FROM scratch",
        "image": "mr-dj-backend:latest",
        "line": "Step 1/1 : FROM scratch",
    }
    assert events[1]["v"] == 1
    assert events[2]["message"].startswith("built mr-dj-backend:latest (sha256:")


# -- the CLI refuses before touching anything ----------------------------------------------------

# the capture CLI tests' config, without a database (these requests fail before any dump)
CONFIG = CLI_CONFIG.replace('database_url = "env:CAPTURE_TEST_DATABASE_URL"\n', "")


@pytest.mark.parametrize(
    "compose, message",
    [
        ("services:\n  mr-dj-backend:\n    image: mr-dj-backend:latest\n", "service mr-dj-backend has no build:"),
        ("services:\n  mr-dj-backend:\n    build: ../other\n", "outside source_dir"),
    ],
)
def test_cli_build_refusals_exit_2_before_anything(tmp_path, capsys, compose, message):
    source_tree(tmp_path / "src", compose)
    (tmp_path / "releases.toml").write_text("")
    config = tmp_path / "console.toml"
    config.write_text(CONFIG.format(tmp=tmp_path))
    assert main(["--config", str(config), "capture", "--tag", "v9", "--build", "--skip-db", "--no-push"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "artifacts").exists()
