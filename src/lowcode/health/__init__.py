"""Liveness, readiness and metrics endpoints for probes and scrapers."""
