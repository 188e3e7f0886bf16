"""The command line's exit codes, in one place every command imports.

0 success, 1 a procedure (or the link to the host) failed, 2 bad input (arguments, config,
an unknown incident), 130 interrupted by Ctrl-C (resumable). README documents them; they are a contract for scripts.
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it: the procedure stopped part-way and can be resumed


def bad_input(message: str) -> int:
    """Say what is wrong with the input on stderr; the exit code for it."""
    print(f"incident-console: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def host_unreachable(error: BaseException) -> int:
    """Say that the link to the host failed, and why, on stderr; the exit code for it."""
    print(f"incident-console: cannot reach the host: {error}", file=sys.stderr)
    return EXIT_FAILED
