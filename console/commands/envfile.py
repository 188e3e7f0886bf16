"""Configuration hotfix on the host: edit an env file without a value ever entering argv.

Commands are journaled and visible in ``ps`` on the host, so values travel only
through stdin (``KEY=VALUE`` lines, see :func:`set_keys_stdin`); argv carries the
file and the key names. Keys are listed, never values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from console.commands.base import argv, sh
from console.secrets import Secret, SecretBytes
from console.validate import UnsafeValue, require_env_key, require_incident_id, require_remote_path


def backup_path(env_file: str, incident_id: str) -> str:
    return f"{require_remote_path(env_file, 'env file')}.incident-{require_incident_id(incident_id)}.bak"


# The first backup of an incident is the state before the incident: a repeated hotfix
# (or a retry after a lost link) keeps it instead of overwriting it with an edited file.
_BACKUP = (
    "set -e\n"
    'if [ -e "$2" ]; then echo "keeping existing backup $2"; exit 0; fi\n'
    'cp -p -- "$1" "$2"\n'
    'echo "backed up $1 to $2"\n'
)


def backup_env_file(env_file: str, incident_id: str) -> list[str]:
    path = require_remote_path(env_file, "env file")
    return sh(_BACKUP, path, backup_path(path, incident_id))


def restore_env_file(env_file: str, incident_id: str) -> list[str]:
    path = require_remote_path(env_file, "env file")
    return argv("cp", "-p", "--", backup_path(path, incident_id), path)


# awk reads the replacements from stdin (/dev/stdin) in BEGIN, then rewrites the file:
# assignment lines of a named key become KEY=VALUE, keys not present are appended.
# It prints key names only. Keys named in argv ($2...) must match stdin exactly, so a
# truncated stdin fails instead of half-applying. The copy keeps owner and mode; mv
# makes the swap atomic.
_SET_AWK = r"""
BEGIN {
  for (i = 1; i < ARGC - 1; i++) { order[++nwant] = ARGV[i]; want[ARGV[i]] = 1; delete ARGV[i] }
  while ((getline line < "/dev/stdin") > 0) {
    eq = index(line, "=")
    if (eq < 2) { print "malformed replacement line on stdin" > "/dev/stderr"; failed = 1; exit 2 }
    key = substr(line, 1, eq - 1)
    if (!(key in want)) { print "unexpected key on stdin: " key > "/dev/stderr"; failed = 1; exit 2 }
    if (!(key in value)) ngot++
    value[key] = substr(line, eq + 1)
  }
  if (ngot != nwant) { print "stdin is missing replacement values" > "/dev/stderr"; failed = 1; exit 2 }
}
{
  if (match($0, /^[ \t]*(export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*[ \t]*=/)) {
    k = substr($0, 1, RLENGTH - 1)
    sub(/^[ \t]*(export[ \t]+)?/, "", k); sub(/[ \t]*$/, "", k)
    if (k in value) { print k "=" value[k]; done[k] = 1; print "updated " k > "/dev/stderr"; next }
  }
  print
}
END {
  if (failed) exit 2
  for (i = 1; i <= nwant; i++) {
    k = order[i]
    if (!(k in done)) { print k "=" value[k]; print "added " k > "/dev/stderr" }
  }
}
"""

_SET = (
    "set -eu\n"
    "f=$1; shift\n"
    'tmp="$f.incident-console.tmp"\n'
    "trap 'rm -f -- \"$tmp\"' EXIT\n"
    'cp -p -- "$f" "$tmp"\n'
    'awk "$0" "$@" "$f" > "$tmp"\n'
    'mv -f -- "$tmp" "$f"\n'
    "trap - EXIT\n"
)


def set_env_keys(env_file: str, keys: Iterable[str]) -> list[str]:
    """Set ``keys`` in ``env_file``; the values come on stdin from :func:`set_keys_stdin`."""
    names = [require_env_key(k) for k in keys]
    if not names:
        raise UnsafeValue("refusing to edit the env file: name at least one key")
    if len(set(names)) != len(names):
        raise UnsafeValue("refusing to edit the env file: a key is named twice")
    # The awk program travels as $0 of the sh script: fixed text, never built from values.
    return argv("sh", "-c", _SET, _SET_AWK, require_remote_path(env_file, "env file"), names)


def set_keys_stdin(values: Mapping[str, Secret | str]) -> SecretBytes:
    """The stdin for :func:`set_env_keys`: one ``KEY=VALUE`` line per key, wrapped as SecretBytes.

    A value with a newline, carriage return or NUL would split into a second line
    of the env file, so it is refused (without echoing it). No plaintext value is ever
    bound to a local name here: a traceback showing locals cannot show it.
    """
    for key, value in values.items():
        if not isinstance(_revealed(value), str):
            raise UnsafeValue(f"refusing value for {require_env_key(key)}: not a string")
        if _breaks_lines(value):
            raise UnsafeValue(f"refusing value for {require_env_key(key)}: it contains a line break or NUL")
    return SecretBytes(
        "".join(f"{require_env_key(key)}={_revealed(value)}\n" for key, value in values.items()).encode("utf-8")
    )


def _revealed(value: Secret | str):
    return value.reveal() if isinstance(value, Secret) else value


def _breaks_lines(value: Secret | str) -> bool:
    return any(c in _revealed(value) for c in "\n\r\x00")


def list_env_keys(env_file: str) -> list[str]:
    """Print the names of the keys assigned in ``env_file``, one per line, never values."""
    script = r"s/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=.*/\2/p"
    return argv("sed", "-n", script, "--", require_remote_path(env_file, "env file"))
