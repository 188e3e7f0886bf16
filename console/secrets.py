"""Secrets as a type: their printed form is always redacted.

Config values given as ``env:NAME`` become :class:`Secret` objects, so a webhook
URL or password can be passed around freely without ever reaching a log line,
the journal or a report by accident.
"""

from __future__ import annotations

import os

REDACTED = "[REDACTED]"


class SecretUnavailable(LookupError):
    """The environment variable a secret refers to is not set."""


class Secret:
    """A value that must never be printed. ``reveal()`` is the only way in."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source or REDACTED})" if self.source else REDACTED

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("secret", self._value))


class SecretBytes:
    """Bytes that must never be printed (a config hotfix's ``KEY=VALUE`` lines for stdin).

    Passed around wrapped and revealed only inside the call that writes them, so neither a
    repr nor a traceback that shows each frame's locals can show them.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"SecretBytes({REDACTED}, {len(self._value)} bytes)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretBytes) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("secret-bytes", self._value))


def stdin_bytes(data: bytes | SecretBytes | None) -> bytes:
    """The bytes to write to a command's stdin (called inline, so no frame keeps them as a local)."""
    if data is None:
        return b""
    return data.reveal() if isinstance(data, SecretBytes) else data


class SecretRef:
    """A reference like ``env:SLACK_WEBHOOK_URL``, resolved only when needed."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"env:{self.name}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.name == self.name

    def resolve(self, environ: dict[str, str] | None = None) -> Secret:
        env = os.environ if environ is None else environ
        value = env.get(self.name)
        if value is None or value == "":
            raise SecretUnavailable(f"environment variable {self.name} is not set")
        return Secret(value, source=f"env:{self.name}")


def redact_text(text: str, secrets: list[Secret]) -> str:
    """Replace every occurrence of every secret value in ``text``."""
    for secret in secrets:
        value = secret.reveal()
        if len(value) >= 4:
            text = text.replace(value, REDACTED)
    return text
