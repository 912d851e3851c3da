"""Code generators that derive `generated/` from the contracts (used by `scripts/generate`)."""
