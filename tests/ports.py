"""A free TCP port, for the suites and the bench harness alike.

Standard library only: `scripts/benchmarks` imports it too (run as
`python -m scripts.benchmarks` from the checkout's root, where `tests` is a package),
and the bench should not pull in the test helpers to get a port.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick, released again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
