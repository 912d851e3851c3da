"""Language negotiation for problem titles.

A hand-written parser: the only thing needed is "does the client prefer zh over
en", and the libraries that negotiate locales (Babel) are far larger than this.
"""

from __future__ import annotations

SUPPORTED = ("en", "zh")


def preferred_language(accept_language: str | None) -> str:
    """Pick `en` or `zh` from an Accept-Language header (RFC 9110 §12.5.4)."""
    if not accept_language:
        return "en"
    best, best_q = "en", -1.0
    for position, item in enumerate(accept_language.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in SUPPORTED:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        # Earlier entries win ties, as clients list in order of preference.
        if q > best_q or (q == best_q and position == 0):
            best, best_q = primary, q
    return best if best_q > 0 else "en"
