"""Releases: the release log, compose files as Docker reads them, bundles, what the host runs."""
