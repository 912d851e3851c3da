"""Real-time page co-editing over WebSockets: hub, rooms, connections."""
