"""Fixtures of the integration suites."""

from collections.abc import AsyncIterator

import pytest

from lowcode.resources import Resources
from lowcode.settings import Settings
from tests.jobs_support import job_resources


@pytest.fixture(scope="module")
async def res(settings: Settings) -> AsyncIterator[Resources]:
    """Resources as the worker opens them, one set per module."""
    async with job_resources(settings) as resources:
        yield resources
