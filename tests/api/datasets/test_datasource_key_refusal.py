"""The public development datasource key, refused by `lowcode serve`
(`tests/api/test_server_process.py`), may still follow a real key so stored
passwords can be rotated away from it."""

import sys
from pathlib import Path

from cryptography.fernet import Fernet

from lowcode.settings import DEV_DATASOURCE_KEY, Settings

LOWCODE = str(Path(sys.executable).parent / "lowcode")


def test_the_development_key_may_follow_a_real_one_to_rotate_passwords_away_from_it():
    new = Fernet.generate_key().decode()
    assert Settings(_env_file=None, DATASOURCE_KEYS=DEV_DATASOURCE_KEY).encrypts_with_dev_key
    assert not Settings(
        _env_file=None, DATASOURCE_KEYS=f"{new},{DEV_DATASOURCE_KEY}"
    ).encrypts_with_dev_key
