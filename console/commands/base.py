"""The tiny helpers every builder is made of (as Kamal's ``commands/base.rb``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from console.validate import UnsafeValue


def argv(*parts: str | Sequence[str]) -> list[str]:
    """Flatten strings and lists of strings into one argv, refusing anything else.

    A NUL cannot travel through a shell command line at all, so it is refused
    here rather than silently truncating an argument on the host.
    """
    out: list[str] = []
    for part in parts:
        items = [part] if isinstance(part, str) else list(part)
        for item in items:
            if not isinstance(item, str):
                raise UnsafeValue(f"refusing argv element {item!r}: not a string")
            if "\x00" in item:
                raise UnsafeValue("refusing argv element containing a NUL byte")
            out.append(item)
    return out


def docker(*args: str | Sequence[str]) -> list[str]:
    return argv("docker", *args)


def sh(script: str, *params: str) -> list[str]:
    """Run a fixed script with values as positional parameters (``$1``...).

    Values are never interpolated into the script text, so no quoting mistake
    can turn a value into code.
    """
    return argv("sh", "-c", script, "sh", list(params))


def user_argv(value: Iterable[str], what: str) -> list[str]:
    """An operator-configured argv (npm scripts...): non-empty strings, at least one."""
    if isinstance(value, str):
        # A string would be split into characters; an argv is a list.
        raise UnsafeValue(f"refusing {what} {value!r}: give it as a list of arguments")
    items = argv(list(value))
    if not items or not all(items):
        raise UnsafeValue(f"refusing {what}: it must be a non-empty list of non-empty strings")
    return items
