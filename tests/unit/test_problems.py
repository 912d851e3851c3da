from lowcode.platform.errors import CATALOG, AppError, FieldError, RateLimited, code_for_status
from lowcode.platform.problems import problem_body


def test_every_code_has_both_titles_and_an_error_status():
    for code, info in CATALOG.items():
        assert code.isupper(), code
        assert info.en and info.zh, code
        assert 400 <= info.status <= 599, code


def test_problem_body_has_the_contract_fields_and_language():
    body = problem_body(
        code="VALIDATION_FAILED",
        status=400,
        detail="two problems",
        language="zh",
        errors=[FieldError("email", "bad"), FieldError("page", "too big", "query")],
    )
    assert set(body) == {"type", "title", "status", "detail", "code", "request_id", "errors"}
    assert body["title"] == CATALOG["VALIDATION_FAILED"].zh
    assert body["errors"][1] == {"field": "page", "in": "query", "message": "too big"}
    assert body["type"] == "urn:lowcode:problem:validation-failed"


def test_status_only_problems_get_a_code():
    assert code_for_status(404) == "NOT_FOUND"
    assert code_for_status(418) == "BAD_REQUEST"
    assert code_for_status(502) == "INTERNAL_ERROR"


def test_rate_limited_carries_retry_after():
    err = RateLimited(0)
    assert err.status == 429
    assert err.headers == {"Retry-After": "1"}


def test_app_error_status_comes_from_the_catalog():
    class PageNotFound(AppError):
        code = "NOT_FOUND"

    assert PageNotFound("gone").status == 404
