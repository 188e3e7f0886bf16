"""The one interface every transport implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from console.secrets import SecretBytes

# Called with ("stdout" | "stderr", [complete lines without newline]) as output arrives;
# lines come in batches so a flood costs one call per chunk, not per line.
OutputCallback = Callable[[str, list[str]], None]


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    exit_status: int | None  # None: the link died, the outcome is UNKNOWN (never success)
    duration: float
    stdout: str = ""  # captured only when asked (capture=True), bounded
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def unknown(self) -> bool:
        return self.exit_status is None


class Transport(Protocol):
    """Runs commands on the target host."""

    description: str  # "deploy@127.0.0.1:2222" or "local"

    async def connect(self) -> None: ...

    async def run(
        self,
        argv: list[str],
        *,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
        stdin: bytes | SecretBytes | None = None,
        capture: bool = False,
    ) -> CommandResult:
        """Run ``argv`` (joined with shlex.join on the far side), streaming output.

        Raises CommandTimeout after killing the whole process group at ``timeout``;
        cancelling the awaiting task also kills the remote process group.
        Raises a TransportError subclass when the link fails.
        """
        ...

    async def close(self) -> None: ...
