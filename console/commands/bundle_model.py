"""The compose model of a release's bundle, resolved by the host's own compose CLI.

One fixed script: extract the bundle's compose files (and, best effort, its env
files, which ``docker-compose config`` v1 needs) into a private temporary
directory, print ``config`` (``--format json`` on v2), remove the directory.
Names travel as positional parameters and are checked to hold no whitespace or
shell pattern characters, so the script's word splitting cannot be steered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from console.commands.artifacts import bundle_path
from console.commands.base import sh
from console.validate import UnsafeValue

_NAME = re.compile(r"[A-Za-z0-9_.@+/-]+")

_SCRIPT = r"""set -eu
b=$1; flavour=$2; n=$3; shift 3
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
compose=""; env=""; i=0
for name in "$@"; do
  if [ "$i" -lt "$n" ]; then compose="$compose $name"; else env="$env $name"; fi
  i=$((i + 1))
done
dotted() { for name in "$@"; do printf './%s ' "$name"; done; }
# members are stored as "name" or "./name" depending on the tar that made the bundle
tar -xzf "$b" -C "$d" --no-same-owner -- $compose 2>/dev/null \
  || tar -xzf "$b" -C "$d" --no-same-owner -- $(dotted $compose)
for name in $env; do
  tar -xzf "$b" -C "$d" --no-same-owner -- "$name" 2>/dev/null \
    || tar -xzf "$b" -C "$d" --no-same-owner -- "./$name" 2>/dev/null || true
done
files=""
for name in $compose; do files="$files -f $d/$name"; done
cd "$d"
if [ "$flavour" = v2 ]; then
  docker compose -p evidence $files --project-directory "$d" config --format json
else
  docker-compose -p evidence $files --project-directory "$d" config
fi"""


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name) or name.startswith(("/", "-")) or ".." in name.split("/"):
        raise UnsafeValue(f"refusing bundle member {name!r}: give a plain relative path")
    return name


def resolved_model(
    flavour: str, artifacts_dir: str, tag: str, compose_files: Sequence[str], env_files: Sequence[str] = ()
) -> list[str]:
    if flavour not in ("docker compose", "docker-compose"):
        raise UnsafeValue(f"refusing compose command {flavour!r}")
    if not compose_files:
        raise UnsafeValue("refusing an empty list of compose files")
    names = [_checked(n) for n in compose_files] + [_checked(n) for n in env_files]
    return sh(
        _SCRIPT,
        bundle_path(artifacts_dir, tag),
        "v2" if flavour == "docker compose" else "v1",
        str(len(compose_files)),
        *names,
    )
