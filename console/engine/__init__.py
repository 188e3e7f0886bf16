"""The step engine: runs a procedure of the runbook step by step and emits typed events."""
