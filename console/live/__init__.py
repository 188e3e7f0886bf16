"""Watching the host live: health checks and the service log stream."""
