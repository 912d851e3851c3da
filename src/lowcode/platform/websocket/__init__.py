"""WebSocket plumbing both sockets share (`/ws/pages/{page_id}` in `collab`,
`/ws/events` in `events`): the bounded outbound side of a connection
(`connection`), frames and their validation against the AsyncAPI document
(`protocol`), per-connection and per-user limits (`limits`), and the token a
socket offers, its expiry and the close codes of ended access (`access`).

A leaf like the rest of `platform`: who a token speaks for is identity's
business (`identity.security.websocket_user`)."""
