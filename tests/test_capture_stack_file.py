"""A capture for a swarm target: the pinned compose file must be a stack file docker stack deploy
deploys as captured (console.capture.stack_file)."""

from __future__ import annotations

import pytest

from console.capture.compose_pin import pin_compose_files
from console.capture.errors import CaptureError
from console.capture.images import ReleaseImage
from console.capture.stack_file import check_stack_files, stack_refs

DIGEST = "sha256:" + "ab" * 32
SOURCE = """\
version: "3.8"
services:
  backend:
    build: ./backend
    image: mr-dj-backend:latest
    env_file: backend/.env
    networks: [hostnet]
networks:
  hostnet:
    external: true
    name: host
"""


def test_images_are_pinned_by_digest_once_pushed():
    pushed = ReleaseImage(
        "mr-dj-backend", "mr-dj-backend:latest", "127.0.0.1:5000/mr-dj-backend:v3", "sha256:1", DIGEST
    )
    local = ReleaseImage("mr-dj-frontend", "mr-dj-frontend:latest", "127.0.0.1:5000/mr-dj-frontend:v3", "sha256:2")
    assert stack_refs([pushed, local]) == {
        "mr-dj-backend": f"127.0.0.1:5000/mr-dj-backend:v3@{DIGEST}",
        "mr-dj-frontend": "127.0.0.1:5000/mr-dj-frontend:v3",
    }


def test_a_pinned_version_3_file_is_a_stack_file():
    refs = {"mr-dj-backend": f"127.0.0.1:5000/mr-dj-backend:v3@{DIGEST}"}
    pinned = pin_compose_files({"docker-compose.yml": SOURCE}, refs, {"backend": "mr-dj-backend"})
    check_stack_files(pinned)  # no build: left, no variables, version 3
    assert f"image: 127.0.0.1:5000/mr-dj-backend:v3@{DIGEST}" in pinned["docker-compose.yml"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('version: "2.4"\nservices: {a: {image: x}}\n', 'version: "2.4" (docker stack deploy needs the version 3'),
        ("services: {a: {image: x, build: .}}\n", "service a has build:"),
        ("services: {a: {image: x, network_mode: host}}\n", "service a has network_mode:"),
        (
            "services: {a: {image: 'x:${TAG:-v1}', environment: {DB: $DATABASE_URL, L: $$HOME}}}\n",
            "it uses variables DATABASE_URL, TAG (docker stack deploy does not read .env",
        ),
    ],
)
def test_what_a_stack_would_deploy_differently_is_refused(text, said):
    with pytest.raises(CaptureError, match="compose file docker-compose.yml cannot be a swarm stack file") as caught:
        check_stack_files({"docker-compose.yml": text})
    assert said in str(caught.value)


def test_a_variable_in_a_comment_is_no_variable():
    check_stack_files({"docker-compose.yml": "# uses ${NOTHING}\nservices: {a: {image: x}}\n"})
