"""The configuration is listed three times — the Settings fields, `.env.example`
and the README's configuration table — and the three name the same variables.
(infra/ is held to Settings by tests/infra: policies.k8s_settings.)"""

import io
import re
from collections import Counter

from dotenv import dotenv_values

from lowcode.settings import PROJECT_ROOT, Settings

ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
README = PROJECT_ROOT / "README.md"

# Variables read outside Settings that both lists document all the same, and
# who reads them.
READ_OUTSIDE_SETTINGS = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "platform/telemetry.py (OpenTelemetry's own variable)",
    "OTEL_SERVICE_NAME": "platform/telemetry.py (OpenTelemetry's own variable)",
    "TEST_DATABASE_URL": "platform/scratch.py, for the tests",
    "TEST_REDIS_URL": "platform/scratch.py, for the tests",
    "GENERATE_DATABASE_URL": "codegen and `lowcode sql vet`, through platform/scratch.py",
    "LOWCODE_FORCE_EMBEDDED": "platform/scratch.py",
}
# The README's row for the OpenTelemetry SDK's other variables.
README_PATTERNS = {"OTEL_*"}


def env_example_names(text: str) -> Counter[str]:
    names = Counter[str]()
    for line in text.splitlines():
        names.update(dotenv_values(stream=io.StringIO(line)).keys())
    return names


def readme_names(text: str) -> Counter[str]:
    """The variables in the first column of the table under "## Configuration"."""
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names = Counter[str]()
    for row in section.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*\*?)`", row.split("|")[1]))
    return names


def differences(env_example: str, readme: str) -> list[str]:
    expected = set(Settings.env_names().values()) | set(READ_OUTSIDE_SETTINGS)
    listed = {
        ".env.example": env_example_names(env_example),
        "the README's configuration table": readme_names(readme) - Counter(README_PATTERNS),
    }
    problems = []
    for where, names in listed.items():
        problems += [f"{name}: missing from {where}" for name in sorted(expected - set(names))]
        problems += [
            f"{name}: in {where}, but nothing reads it" for name in sorted(set(names) - expected)
        ]
        problems += [f"{name}: twice in {where}" for name, n in sorted(names.items()) if n > 1]
    return problems


def test_settings_env_example_and_readme_list_the_same_variables():
    assert differences(ENV_EXAMPLE.read_text(), README.read_text()) == []


def test_a_variable_missing_from_one_list_or_extra_in_another_is_named():
    env_example = ENV_EXAMPLE.read_text().replace("\nWS_SEND_QUEUE=", "\n# WS_SEND_QUEUE=")
    readme = README.read_text().replace(
        "| `LOWCODE_DATA_DIR` |", "| `LOWCODE_DATA_DIR` / `NO_SUCH_SETTING` / `PORT` |"
    )
    assert differences(env_example, readme) == [
        "WS_SEND_QUEUE: missing from .env.example",
        "NO_SUCH_SETTING: in the README's configuration table, but nothing reads it",
        "PORT: twice in the README's configuration table",
    ]


def test_the_variables_read_outside_settings_are_still_read():
    source = "\n".join(p.read_text() for p in (PROJECT_ROOT / "src" / "lowcode").rglob("*.py"))
    unread = [name for name in READ_OUTSIDE_SETTINGS if f'"{name}"' not in source]
    assert unread == []
