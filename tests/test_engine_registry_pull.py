"""Images are pulled by the digest captured in the release log, then tagged for compose."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import load_config
from console.engine.registry_pull import pull_steps
from console.release.release_log import Release
from console.validate import UnsafeValue

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
DIGEST = "sha256:" + "ab" * 32


def release(images):
    return Release.from_dict({"tag": "v1", "captured_at": "2026-11-20T10:00:00Z", "images": images}, "test")


def test_a_captured_digest_is_pulled_exactly_and_tagged_with_the_release_tag():
    config = load_config(EXAMPLE)
    steps = pull_steps(config, release({"mr-dj-backend": {"ref": "x", "digest": DIGEST}}), "v1")
    by_id = {s.id: s for s in steps}
    assert by_id["pull_mr-dj-backend"].argv == ["docker", "pull", f"registry.example.com/mr-dj-backend@{DIGEST}"]
    assert by_id["tag_mr-dj-backend"].argv == [
        "docker",
        "tag",
        f"registry.example.com/mr-dj-backend@{DIGEST}",
        "registry.example.com/mr-dj-backend:v1",
    ]
    # no digest captured for the frontend: its tag is trusted, and the step says so
    assert by_id["pull_mr-dj-frontend"].argv == ["docker", "pull", "registry.example.com/mr-dj-frontend:v1"]
    assert "tag is trusted" in by_id["pull_mr-dj-frontend"].title
    assert "tag_mr-dj-frontend" not in by_id


def test_staging_pulls_are_named_and_placed_on_staging():
    config = load_config(EXAMPLE)
    steps = pull_steps(
        config,
        release({"mr-dj-backend": {"digest": DIGEST}}),
        "v1",
        id_prefix="staging_",
        title_prefix="Staging: ",
        host="staging",
    )
    assert [s.id for s in steps] == [
        "staging_pull_mr-dj-backend",
        "staging_tag_mr-dj-backend",
        "staging_pull_mr-dj-frontend",
    ]
    assert {s.host for s in steps} == {"staging"} and all(s.title.startswith("Staging: ") for s in steps)


@pytest.mark.parametrize("digest", ["sha256:short", "md5:" + "a" * 32, "sha256:" + "A" * 64])
def test_a_malformed_digest_is_not_used(digest):
    config = load_config(EXAMPLE)
    steps = pull_steps(config, release({"mr-dj-backend": {"digest": digest}}), "v1")
    assert steps[0].argv == ["docker", "pull", "registry.example.com/mr-dj-backend:v1"]


def test_digest_refs_are_validated():
    from console.commands.artifacts import digest_ref

    with pytest.raises(UnsafeValue):
        digest_ref("registry.example.com", "mr-dj-backend", "sha256:zz;rm -rf /")
