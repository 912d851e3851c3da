"""Fixtures of the sync suites."""

from tests.api.sync.support import sink  # noqa: F401  (the session's sink database)
