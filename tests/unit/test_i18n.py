import pytest

from lowcode.platform.i18n import preferred_language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN", "zh"),
        ("zh-Hans-CN,zh;q=0.9", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR,zh;q=0.5,en;q=0.4", "zh"),
        ("de,fr", "en"),
        ("zh;q=0", "en"),
        ("zh;q=oops,en", "en"),
    ],
)
def test_preferred_language_follows_accept_language(header, expected):
    assert preferred_language(header) == expected
