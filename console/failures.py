"""The small taxonomy of why a step failed, shared by engine, UI and report."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.transport.base import CommandResult


class FailureReason(StrEnum):
    CONNECTION_LOST = "connection_lost"
    OUTCOME_UNKNOWN = "outcome_unknown"  # the link died while the command ran: it may have done its work
    CONNECTION_TIMEOUT = "connection_timeout"
    AUTHENTICATION_FAILED = "authentication_failed"
    HOST_KEY_REJECTED = "host_key_rejected"
    NON_ZERO_EXIT = "non_zero_exit"
    STEP_TIMEOUT = "step_timeout"
    PRECONDITION = "precondition_failed"  # e.g. checksum mismatch, lock held
    CANCELLED = "cancelled"
    INTERNAL_ERROR = "internal_error"  # a bug or an unforeseen failure inside a built-in check

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class TransportError(Exception):
    """Base for failures of the link to the host (not of the command run on it)."""

    reason = FailureReason.CONNECTION_LOST
    # Set (not defaulted) on a timeout or a lost link: what the command had printed by then.
    result: CommandResult


class ConnectionLost(TransportError):
    reason = FailureReason.CONNECTION_LOST


class OutcomeUnknown(ConnectionLost):
    """The link died after the command started and before its exit status came back."""

    reason = FailureReason.OUTCOME_UNKNOWN


class ConnectTimeout(TransportError):
    reason = FailureReason.CONNECTION_TIMEOUT


class AuthenticationFailed(TransportError):
    reason = FailureReason.AUTHENTICATION_FAILED


class HostKeyRejected(TransportError):
    """Unknown or changed host key; the message shows the fingerprint and how to trust it."""

    reason = FailureReason.HOST_KEY_REJECTED


class CommandTimeout(TransportError):
    """The command ran past its timeout and was killed (with its process group)."""

    reason = FailureReason.STEP_TIMEOUT


class PreconditionFailed(Exception):
    """A check before a mutating step refused to go on (checksums, lock, schema)."""

    reason = FailureReason.PRECONDITION
