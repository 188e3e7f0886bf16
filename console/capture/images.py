"""Release images: tag the locally built ones, push them, save them to a tarball (docker SDK).

docker-py reports push failures *inside* the returned stream (``{"error": ...,
"errorDetail": ...}``), not as exceptions: a loop that only prints progress
would call an unreachable registry a successful push. Every stream here is
read to its end and its errors raised.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from console.capture.errors import BadCaptureInput, CaptureError
from console.commands import artifacts as art
from console.config import Config
from console.secrets import SecretUnavailable

# (image ref, layer id or None, status text, bytes done or None, bytes total or None)
PushProgress = Callable[[str, str | None, str, int | None, int | None], None]
# (bytes written so far)
SaveProgress = Callable[[int], None]

# Words in a daemon error that mean "could not talk to the registry at all".
_UNREACHABLE = (
    "connection refused",
    "dial tcp",
    "no such host",
    "i/o timeout",
    "connection reset",
    "no route to host",
    "network is unreachable",
    "server gave http response",
)


@dataclass(frozen=True)
class ReleaseImage:
    name: str  # the configured image name ("mr-dj-backend")
    source: str  # the local image it came from ("mr-dj-backend:latest")
    ref: str  # "<registry>/<image>:<tag>"
    image_id: str  # "sha256:..." content id of the local image
    digest: str | None = None  # registry manifest digest once pushed

    def record(self) -> dict[str, str]:
        entry = {"ref": self.ref, "id": self.image_id}
        if self.digest:
            entry["digest"] = self.digest
        return entry


def docker_client() -> docker.DockerClient:
    """The local daemon (``DOCKER_HOST`` honoured), checked to answer."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        where = os.environ.get("DOCKER_HOST", "the default socket")
        raise CaptureError(f"docker daemon at {where} unreachable: {exc}") from None
    return client


def tag_release_images(
    client: docker.DockerClient, config: Config, tag: str, source_tag: str = "latest"
) -> list[ReleaseImage]:
    """Tag ``<image>:<source_tag>`` of every service as ``<registry>/<image>:<tag>``."""
    images = []
    for service in config.services:
        ref = art.image_ref(config.registry.url, service.image, tag)
        source = f"{service.image}:{source_tag}"
        try:
            image = client.images.get(source)
        except docker.errors.ImageNotFound:
            raise CaptureError(
                f"local image {source} not found: build the release first "
                f"(docker-compose build in {config.capture.source_dir}), "
                "or capture with --build"
            ) from None
        except docker.errors.APIError as exc:
            raise CaptureError(f"cannot inspect {source}: {exc.explanation or exc}") from None
        repository, _, ref_tag = ref.rpartition(":")
        if not image.tag(repository, ref_tag):
            raise CaptureError(f"docker refused to tag {source} as {ref}")
        images.append(ReleaseImage(name=service.image, source=source, ref=ref, image_id=image.id))
    return images


def stream_error(event: dict[str, Any]) -> str | None:
    """The error a decoded push or build stream event carries, or None."""
    if "error" in event or "errorDetail" in event:
        detail = event.get("errorDetail") or {}
        return str(event.get("error") or detail.get("message") or detail or "unknown error")
    return None


def push_image(
    client: docker.DockerClient,
    image: ReleaseImage,
    registry: str,
    on_progress: PushProgress | None = None,
    auth_config: dict[str, str] | None = None,
) -> ReleaseImage:
    """Push ``image.ref``, reading the whole stream; returns it with the pushed digest."""
    repository, _, tag = image.ref.rpartition(":")
    digest = None
    try:
        stream = client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth_config)
        for event in stream:
            error = stream_error(event)
            if error is not None:
                raise CaptureError(_push_failure(registry, image.ref, error))
            aux = event.get("aux") or {}
            if aux.get("Digest"):
                digest = aux["Digest"]
            if on_progress is not None and (event.get("status") or event.get("id")):
                detail = event.get("progressDetail") or {}
                on_progress(
                    image.ref, event.get("id"), event.get("status", ""), detail.get("current"), detail.get("total")
                )
    except docker.errors.APIError as exc:
        raise CaptureError(_push_failure(registry, image.ref, str(exc.explanation or exc))) from None
    except requests.RequestException as exc:
        raise CaptureError(f"docker daemon connection lost while pushing {image.ref}: {exc}") from None
    if digest is None:
        digest = _repo_digest(client, image.ref)
    if digest is None:
        raise CaptureError(f"push of {image.ref} reported no digest; the registry may not hold it")
    return ReleaseImage(name=image.name, source=image.source, ref=image.ref, image_id=image.image_id, digest=digest)


def _push_failure(registry: str, ref: str, error: str) -> str:
    if any(word in error.lower() for word in _UNREACHABLE):
        return f"registry {registry} unreachable: {error}"
    return f"push of {ref} to registry {registry} failed: {error}"


def _repo_digest(client: docker.DockerClient, ref: str) -> str | None:
    repository = ref.rpartition(":")[0]
    try:
        attrs = client.images.get(ref).attrs
    except docker.errors.DockerException:
        return None
    for repo_digest in attrs.get("RepoDigests") or []:
        name, _, digest = repo_digest.partition("@")
        if name == repository and digest:
            return digest
    return None


def save_images(
    client: docker.DockerClient, refs: Iterable[str], path: Path, on_progress: SaveProgress | None = None
) -> Path:
    """Write one ``docker save`` tarball holding all ``refs`` (tags kept, so ``docker load``
    recreates ``<registry>/<image>:<tag>``), mode 0600, replaced atomically."""
    names = list(refs)
    api = client.api
    tmp = path.with_name(f".{path.name}.part")
    written = 0
    try:
        # The engine's multi-image endpoint (GET /images/get?names=...); docker-py's
        # get_image() only saves one image per tarball.
        response = api._get(api._url("/images/get"), params={"names": names}, stream=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in api._stream_raw_result(response, 2 * 1024 * 1024, False):
                out.write(chunk)
                written += len(chunk)
                if on_progress is not None:
                    on_progress(written)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except docker.errors.APIError as exc:
        tmp.unlink(missing_ok=True)
        raise CaptureError(f"docker could not save {', '.join(names)}: {exc.explanation or exc}") from None
    except (requests.RequestException, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise CaptureError(f"saving images to {path.name} failed: {exc}") from None
    if written == 0:
        path.unlink(missing_ok=True)
        raise CaptureError(f"docker returned an empty tarball for {', '.join(names)}")
    return path


def registry_auth(config: Config) -> dict[str, str] | None:
    """Push credentials from the config (password by reference), or None for an open registry."""
    registry = config.registry
    if not registry.username:
        return None
    if registry.password is None:
        raise CaptureError("registry.username is set but registry.password is not")
    try:
        password = registry.password.resolve().reveal()
    except SecretUnavailable as exc:
        raise BadCaptureInput(f"registry.password ({registry.password!r}): {exc}") from None
    return {"username": registry.username, "password": password}
