"""`python -m lowcode.health.probe [PORT] [PATH]`: exit 0 when
http://127.0.0.1:PORT/PATH answers 200, else 1.

The container healthcheck (Dockerfile HEALTHCHECK, compose). The port
defaults to PORT (the API), 8080 without it; the worker's probe passes
WORKER_METRICS_PORT. Standard library only, so a check every few seconds
costs an interpreter start and nothing more; curl is not in the slim image.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 2.0


def main(argv: list[str]) -> int:
    port = argv[0] if argv else os.environ.get("PORT") or "8080"
    path = argv[1] if len(argv) > 1 else "/health/ready"
    if not port.isdigit() or not path.startswith("/"):
        print("usage: python -m lowcode.health.probe [PORT] [/PATH]", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (OSError, ValueError) as e:
        print(f"{url}: {e}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
