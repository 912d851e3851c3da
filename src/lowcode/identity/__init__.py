"""Users, sessions and roles."""
