"""Fixtures shared by the API suites."""

from tests.api.sources import source  # noqa: F401  (the session's source database)
