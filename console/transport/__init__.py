"""Transports run argv lists on the target: over SSH (asyncssh) or locally."""

from console.transport.base import CommandResult, OutputCallback, Transport

__all__ = ["CommandResult", "OutputCallback", "Transport"]
