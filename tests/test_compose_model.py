"""The release's compose model: a local compose CLI's `config` where one is installed, else the own parse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from console.capture.build import plan_builds
from console.capture.compose_model import compose_model
from console.capture.compose_pin import pin_compose_files
from console.capture.errors import BadCaptureInput, CaptureError
from console.config import load_config
from console.release.composefile import merge_documents, parse_compose

COMPOSE = """\
# Shop API
x-logging: &logging
  logging: {driver: json-file, options: {max-size: "10m", max-file: "3"}}
x-service: &service
  <<: *logging
  init: true
  network_mode: host
services:
  shop-api:
    <<: *service
    build:
      context: ./api
    image: shop-api:latest
    env_file: api/.env
    environment:
      PORT: "19081"     # moved by the override
    labels: {"com.example.owner#team": shop}
    volumes:
      - type: volume
        source: shop-state
        target: /state
volumes:
  shop-state: {}
"""
OVERRIDE = 'services:\n  shop-api:\n    environment:\n      PORT: "19181"\n'


def project(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "api").mkdir(parents=True)
    (src / "compose.yaml").write_text(COMPOSE)
    (src / "compose.override.yaml").write_text(OVERRIDE)
    (src / "api" / ".env").write_text("DATABASE_URL=postgres://u:hunter2@db/x\n")
    (src / "api" / "Dockerfile").write_text("FROM scratch\n")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[target]\nhost = "h"\nproject_name = "shop"\nproject_dir = "/opt/shop"\n'
        f'[commands]\nmaintenance = false\nmigrations = false\nsmoke_tests = []\n[registry]\nurl = "r:5000"\n'
        f'[[services]]\nname = "shop-api"\nimage = "shop-api"\n'
        f'[[health]]\nname = "a"\nurl = "http://127.0.0.1:1/"\n'
        f'[capture]\nsource_dir = "{src}"\n'
    )
    return config


@pytest.mark.skipif(not (shutil.which("docker-compose") or shutil.which("docker")), reason="no compose CLI")
def test_a_local_compose_cli_resolves_both_files(tmp_path):
    config = load_config(project(tmp_path), environ={})
    assert config.capture.compose_files == ("compose.yaml", "compose.override.yaml")
    model = compose_model(config)
    if model.note:  # a docker CLI without compose: the own parse, said so
        pytest.skip(f"no usable compose CLI here: {model.note}")
    service = model.document["services"]["shop-api"]
    assert str(service["environment"]["PORT"]) == "19181"
    assert service["logging"]["driver"] == "json-file"
    [build] = plan_builds(model.document, config.capture.source_dir, {"shop-api": "shop-api"}, "v1")
    assert build.spec.context == "./api" and build.tag == "shop-api:v1"


def test_without_a_compose_cli_the_own_parse_layers_the_files_and_says_so(tmp_path):
    config = load_config(project(tmp_path), environ={})
    model = compose_model(config, flavours=[])
    assert model.source == "own parse" and model.note == "no compose CLI on this machine"
    service = model.document["services"]["shop-api"]
    assert service["environment"]["PORT"] == "19181" and service["init"] is True
    [build] = plan_builds(model.document, config.capture.source_dir, {"shop-api": "shop-api"}, "v1")
    assert build.spec.context == "./api"


def test_a_file_that_is_not_yaml_is_refused_naming_the_file(tmp_path):
    config_path = project(tmp_path)
    (tmp_path / "src" / "compose.override.yaml").write_text("services: [\n")
    with pytest.raises(BadCaptureInput, match="compose file compose.override.yaml not understood"):
        compose_model(load_config(config_path, environ={}), flavours=[])


def test_pinning_a_file_that_is_not_yaml_is_a_capture_failure_naming_the_file():
    # Pinning runs after the model was read: a file it cannot parse then is the capture's
    # failure (exit 1), not bad input (exit 2).
    with pytest.raises(CaptureError, match="compose file compose.yaml not understood") as raised:
        pin_compose_files({"compose.yaml": "services: [\n"}, {"shop-api": "r/shop-api:v1"}, {"shop-api": "shop-api"})
    assert not isinstance(raised.value, BadCaptureInput)


def test_pinning_keeps_comments_anchors_and_flow_maps_and_drops_build():
    refs = {"shop-api": "r:5000/shop-api:v1"}
    pinned = pin_compose_files(
        {"compose.yaml": COMPOSE, "compose.override.yaml": OVERRIDE}, refs, {"shop-api": "shop-api"}
    )
    text = pinned["compose.yaml"]
    assert text.startswith("# Shop API\n") and "<<: *service" in text and "&logging" in text
    assert 'logging: {driver: json-file, options: {max-size: "10m", max-file: "3"}}' in text
    assert '{"com.example.owner#team": shop}' in text and "# moved by the override" in text
    assert "build:" not in text and "image: r:5000/shop-api:v1" in text
    assert pinned["compose.override.yaml"] == OVERRIDE
    merged = merge_documents([parse_compose(t) for t in pinned.values()])["services"]["shop-api"]
    assert merged["image"] == "r:5000/shop-api:v1" and merged["environment"]["PORT"] == "19181"


def test_a_build_inherited_through_a_merge_key_is_written_out_without_it():
    text = "x-app: &app\n  build: ./api\n  init: true\nservices:\n  shop-api:\n    <<: *app\n    ports: ['8080:80']\n"
    pinned = pin_compose_files({"compose.yaml": text}, {"shop-api": "r/shop-api:v1"}, {"shop-api": "shop-api"})
    service = parse_compose(pinned["compose.yaml"])["services"]["shop-api"]
    assert service == {"init": True, "ports": ["8080:80"], "image": "r/shop-api:v1"}
