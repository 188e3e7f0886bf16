"""Release artifacts on the host: compose bundles, image tarballs, registry images, checksums.

File names follow the runbook: ``<TAG>-compose.tar.gz``, ``<TAG>-images.tar`` and
``SHA256SUMS.txt`` in ``artifacts_dir``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from console.commands.base import argv, docker
from console.validate import (
    UnsafeValue,
    require_image,
    require_image_ref,
    require_registry,
    require_remote_path,
    require_tag,
)

SHA256SUMS = "SHA256SUMS.txt"


def bundle_path(artifacts_dir: str, tag: str) -> str:
    return f"{require_remote_path(artifacts_dir, 'artifacts directory')}/{require_tag(tag)}-compose.tar.gz"


def images_path(artifacts_dir: str, tag: str) -> str:
    return f"{require_remote_path(artifacts_dir, 'artifacts directory')}/{require_tag(tag)}-images.tar"


def sha256sums_path(artifacts_dir: str) -> str:
    return f"{require_remote_path(artifacts_dir, 'artifacts directory')}/{SHA256SUMS}"


def extract_bundle(artifacts_dir: str, tag: str, project_dir: str) -> list[str]:
    """Unpack the previous release's compose bundle over the project directory.

    GNU tar already strips leading "/" and refuses ".." members; on top of that the
    files become the deploy user's own (no owner/mode from the archive), and existing
    directories such as the project directory keep their metadata.
    """
    return argv(
        "tar",
        "-xzf",
        bundle_path(artifacts_dir, tag),
        "-C",
        require_remote_path(project_dir, "project directory"),
        "--no-same-owner",
        "--no-same-permissions",
        "--no-overwrite-dir",
    )


def extract_bundle_member(artifacts_dir: str, tag: str, project_dir: str, member: str | Sequence[str]) -> list[str]:
    """Unpack named files of a bundle (staging takes the compose files and keeps its own env files),
    with :func:`extract_bundle`'s safe tar flags."""
    members = [member] if isinstance(member, str) else list(member)
    for name in members or [""]:
        if (
            not name
            or name.startswith(("/", "-"))
            or ".." in name.split("/")
            or not all(c.isprintable() and not c.isspace() for c in name)
        ):
            raise UnsafeValue(f"refusing bundle member {name!r}: give a plain relative path")
    return argv(extract_bundle(artifacts_dir, tag, project_dir), "--", members)


def list_bundle(artifacts_dir: str, tag: str) -> list[str]:
    """List members with types (``tar -tv``) so links and odd paths are seen before extraction."""
    return argv("tar", "--numeric-owner", "-tvzf", bundle_path(artifacts_dir, tag))


def docker_load(artifacts_dir: str, tag: str) -> list[str]:
    return docker("load", "-i", images_path(artifacts_dir, tag))


def image_ref(registry: str, image: str, tag: str) -> str:
    ref = f"{require_registry(registry)}/{require_image(image)}:{require_tag(tag)}"
    return require_image_ref(ref)


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)


def is_image_digest(value: str) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def digest_ref(registry: str, image: str, digest: str) -> str:
    """``<registry>/<image>@sha256:…``: the exact manifest captured, whatever the tag says now."""
    if not is_image_digest(digest):
        raise UnsafeValue(f"refusing image digest {digest!r}: expected sha256:<64 hex>")
    return require_image_ref(f"{require_registry(registry)}/{require_image(image)}@{digest}")


def docker_pull_digest(registry: str, image: str, digest: str) -> list[str]:
    return docker("pull", digest_ref(registry, image, digest))


def docker_pull(registry: str, image: str, tag: str) -> list[str]:
    return docker("pull", image_ref(registry, image, tag))


def docker_tag(source: str, target: str) -> list[str]:
    return docker("tag", require_image_ref(source), require_image_ref(target))


def docker_push(ref: str) -> list[str]:
    return docker("push", require_image_ref(ref))


def docker_image_inspect(refs: Iterable[str]) -> list[str]:
    """JSON array of the images (``Id``, ``RepoTags``, ``RepoDigests``...)."""
    names = [require_image_ref(r) for r in refs]
    if not names:
        raise UnsafeValue("refusing to inspect: name at least one image")
    return docker("image", "inspect", names)


def sha256sum(paths: Iterable[str]) -> list[str]:
    files = [require_remote_path(p, "file") for p in paths]
    if not files:
        raise UnsafeValue("refusing to checksum: name at least one file")
    return argv("sha256sum", "--", files)


def read_sha256sums(artifacts_dir: str) -> list[str]:
    return argv("cat", "--", sha256sums_path(artifacts_dir))


# -- Parsing -----------------------------------------------------------------------------

# "<hash>  <name>" (text mode) or "<hash> *<name>" (binary mode), as sha256sum writes;
# a leading "\" marks a name with escaped "\\" / "\n" (GNU coreutils).
_SUM_LINE = re.compile(r"(?P<escaped>\\)?(?P<hash>[0-9A-Fa-f]{64}) (?P<mode>[ *])(?P<name>.+)", re.ASCII)


def parse_sha256sums(text: str) -> dict[str, list[str]]:
    """Map each listed file's base name to every hash listed for it, in order.

    Keyed by base name because the runbook appends ``artifacts/<TAG>-...`` relative
    paths while the host keeps the files in ``artifacts_dir``; a name listed twice
    keeps both hashes so a conflicting re-capture is visible, never silently resolved.
    Lines that are not checksum lines (blank, comments) are ignored.
    """
    sums: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _SUM_LINE.fullmatch(line.rstrip("\r"))
        if match is None:
            continue
        name = match["name"]
        if match["escaped"]:
            name = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), name)
        sums.setdefault(posixpath.basename(name), []).append(match["hash"].lower())
    return sums


def checksum_problem(filename: str, listed: dict[str, list[str]], computed: dict[str, list[str]]) -> str | None:
    """Why ``filename`` cannot be trusted, or None when its listed and computed hashes agree."""
    expected = set(listed.get(filename, []))
    actual = computed.get(filename, [])
    if not expected:
        return f"{filename} is not listed in {SHA256SUMS}"
    if len(expected) > 1:
        return f"{filename} is listed {len(listed[filename])} times with different hashes in {SHA256SUMS}"
    if not actual:
        return f"{filename} could not be checksummed on the host"
    if actual[-1] not in expected:
        return f"{filename} has sha256 {actual[-1]}, {SHA256SUMS} lists {next(iter(expected))}"
    return None


@dataclass(frozen=True)
class BundleMember:
    kind: str  # the tar type letter: "-" file, "d" dir, "l" symlink, "h" hard link, ...
    name: str
    link_target: str | None = None


# GNU tar -tv: "-rw-r--r-- user/group  1234 2024-05-01 12:00 name", devices show "1,3"
# instead of a size, symlinks end "name -> target", hard links "name link to target".
_TAR_LINE = re.compile(
    r"(?P<kind>[-dlhcbpsC])[rwxsStT-]{9}\S*\s+\S+\s+[0-9,]+\s+\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}(?::\d{2})?\s(?P<rest>.+)",
    re.ASCII,
)


def parse_bundle_listing(text: str) -> list[BundleMember]:
    members = []
    for line in text.splitlines():
        match = _TAR_LINE.fullmatch(line.rstrip("\r"))
        if match is None:
            if line.strip():  # never let a line we cannot read hide a member
                members.append(BundleMember(kind="?", name=line.strip()))
            continue
        kind, rest, target = match["kind"], match["rest"], None
        if kind == "l" and " -> " in rest:
            rest, target = rest.split(" -> ", 1)
        elif kind == "h" and " link to " in rest:
            rest, target = rest.split(" link to ", 1)
        members.append(BundleMember(kind=kind, name=rest, link_target=target))
    return members


def unsafe_members(members: Iterable[BundleMember]) -> list[str]:
    """Reasons to refuse a bundle: anything but files and directories staying inside the project."""
    problems = []
    for m in members:
        parts = m.name.split("/")
        if m.kind == "?":
            problems.append(f"unreadable listing line {m.name[:200]!r}")
        elif m.name.startswith("/") or ".." in parts:
            problems.append(f"{m.name}: path leaves the project directory")
        elif m.kind in ("l", "h"):
            problems.append(f"{m.name}: link to {m.link_target} (links are not expected in a compose bundle)")
        elif m.kind not in ("-", "d"):
            problems.append(f"{m.name}: special file of type {m.kind!r}")
    return problems
