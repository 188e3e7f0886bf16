"""Prometheus and Alertmanager, driven for real: alert silences, metrics checks and their series."""
