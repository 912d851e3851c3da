"""Per-user notifications (`/ws/events`), delivered on every node through Redis pub/sub."""
