"""A release put on the host from its artifacts (console.engine.release_restore): pure builders."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

from console.config import load_config
from console.engine.release_restore import load_images_step, restore_bundle_step
from console.validate import UnsafeValue

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_the_bundle_is_unpacked_over_the_project_directory_after_a_confirmation():
    preview = lambda ctx: "snapshot"  # noqa: E731
    step = restore_bundle_step(load_config(EXAMPLE), "v1", "Restore the v1 compose bundle", preview=preview)
    assert (step.id, step.title) == ("restore_bundle", "Restore the v1 compose bundle")
    assert shlex.join(step.argv) == (
        "tar -xzf /opt/artifacts/v1-compose.tar.gz -C /opt/mr-dj "
        "--no-same-owner --no-same-permissions --no-overwrite-dir"
    )
    assert step.destructive and step.mutating and step.preview is preview


def test_the_images_are_loaded_from_the_release_tarball():
    step = load_images_step(load_config(EXAMPLE), "v1", "Load v1 images")
    assert (step.id, step.title) == ("load_images", "Load v1 images")
    assert shlex.join(step.argv) == "docker load -i /opt/artifacts/v1-images.tar"
    assert step.mutating and not step.destructive and step.timeout == 900


def test_a_bad_tag_or_project_directory_is_refused():
    config = load_config(EXAMPLE)
    with pytest.raises(UnsafeValue):
        load_images_step(config, "v1;rm", "Load")
    relative = dataclasses.replace(config, target=dataclasses.replace(config.target, project_dir="mr-dj"))
    with pytest.raises(UnsafeValue):
        restore_bundle_step(relative, "v1", "Restore")
