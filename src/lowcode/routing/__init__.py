"""Per-workspace routing to the legacy backend, with fallback (see middleware.py)."""
