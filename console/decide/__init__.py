"""Deciding: the runbook as data, the decision evidence and the rollback target choice."""
