"""Cross-cutting infrastructure: database, errors, logging, telemetry, health, cache."""
