"""The deployment policies hold for infra/ (each is explained in policies.py)."""

import pytest

from lowcode.settings import PROJECT_ROOT
from tests.infra import policies
from tests.infra.deployment import Infra, required_settings

INFRA = Infra(PROJECT_ROOT / "infra")


@pytest.mark.parametrize("name", sorted(policies.POLICIES))
def test_the_deployment_keeps_the_policy(name):
    assert policies.POLICIES[name](INFRA) == []


def test_the_settings_a_container_must_be_given_are_derived_from_the_settings_class():
    # Not a list kept by hand: these come from Settings' defaults and types.
    assert {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "CALCITE_TARGET", "SEATUNNEL_TARGET"} <= (
        required_settings()
    )
    assert "PORT" not in required_settings()
