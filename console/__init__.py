"""incident-console core: config, runbook, commands, transports, engine, journal.

Nothing under this package may import Textual (enforced by tests/test_layering.py).
"""

__version__ = "0.1.0"
