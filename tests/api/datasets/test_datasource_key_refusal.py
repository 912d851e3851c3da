"""`lowcode serve` refuses the public development datasource key, as it refuses
the development JWT secret: anyone with the repository could decrypt the
datasource passwords stored under it."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from lowcode.settings import DEV_DATASOURCE_KEY, Settings

LOWCODE = str(Path(sys.executable).parent / "lowcode")


def test_serve_refuses_to_start_without_datasource_keys_or_with_the_development_key(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATASOURCE_KEYS"},
        "DATABASE_URL": "postgresql://unused/x",
        "REDIS_URL": "redis://unused",
    }
    for keys in (None, "", DEV_DATASOURCE_KEY):
        run_env = env if keys is None else {**env, "DATASOURCE_KEYS": keys}
        proc = subprocess.run(
            [LOWCODE, "serve"],
            env=run_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert "DATASOURCE_KEYS is not set" in proc.stderr


def test_the_development_key_may_follow_a_real_one_to_rotate_passwords_away_from_it():
    new = Fernet.generate_key().decode()
    assert Settings(_env_file=None, DATASOURCE_KEYS=DEV_DATASOURCE_KEY).encrypts_with_dev_key
    assert not Settings(
        _env_file=None, DATASOURCE_KEYS=f"{new},{DEV_DATASOURCE_KEY}"
    ).encrypts_with_dev_key
