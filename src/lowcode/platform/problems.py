"""problem+json (RFC 9457) responses for every error the service returns.

`AppError`s from services, Connexion's own problems (validation, security,
routing) and unexpected exceptions all leave through `render_problem`, so every
error body has the same shape: type, title, status, detail, code, request_id
and, for validation problems, errors[].
"""

from __future__ import annotations

import json
import logging
from typing import Any

from connexion.exceptions import NonConformingResponse, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.types import Send

from lowcode.platform.errors import CATALOG, AppError, FieldError, code_for_status
from lowcode.platform.i18n import preferred_language
from lowcode.platform.outage import is_outage, unavailable
from lowcode.platform.request_context import STATE_SETTINGS, current_request_id

log = logging.getLogger("lowcode.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(code: str) -> str:
    return f"urn:lowcode:problem:{code.lower().replace('_', '-')}"


def problem_body(
    *,
    code: str,
    status: int,
    detail: str | None,
    language: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    info = CATALOG.get(code)
    title = (info.zh if language == "zh" else info.en) if info else "Error"
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail or (info.en if info else title),
        "code": code,
        "request_id": current_request_id(),
    }
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    if extra:
        body.update(extra)
    return body


def render_problem(
    request: ConnexionRequest | None,
    *,
    code: str,
    status: int,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ConnexionResponse:
    language = preferred_language(request.headers.get("accept-language") if request else None)
    body = problem_body(
        code=code, status=status, detail=detail, language=language, errors=errors, extra=extra
    )
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="lowcode"')
    return ConnexionResponse(
        status_code=status,
        mimetype=PROBLEM_MEDIA_TYPE,
        content_type=PROBLEM_MEDIA_TYPE,
        body=json.dumps(body, ensure_ascii=False),
        headers=headers,
    )


class RequestValidationProblem(ProblemException):
    """Raised by our validators with every field problem, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        summary = "; ".join(f"{e.field or '(body)'}: {e.message}" for e in errors[:5])
        super().__init__(status=400, title="Bad Request", detail=summary)
        self.errors = errors


def handle_app_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, AppError)
    if exc.status >= 500:
        log.error("service error %s: %s", exc.code, exc, exc_info=exc)
    return render_problem(
        request,
        code=exc.code,
        status=exc.status,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra={k: v for k, v in exc.extra.items() if v is not None},
    )


def handle_connexion_problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Reshape Connexion's problems (validation, auth, routing) into ours."""
    assert isinstance(exc, ProblemException)
    if isinstance(exc, RequestValidationProblem):
        return render_problem(
            request, code="VALIDATION_FAILED", status=400, detail=exc.detail, errors=exc.errors
        )
    status = int(exc.status)
    detail = _text(exc.detail)
    if isinstance(exc, NonConformingResponse):
        # Only raised with VALIDATE_RESPONSES=true (tests, development): the reason
        # is what the developer needs, and the response was ours to send anyway.
        log.error("problem %s: %s", status, detail)
    elif status >= 500:
        # A bug of ours, not the client's business.
        log.error("problem %s: %s", status, detail)
        detail = None
    ext = exc.ext if isinstance(exc.ext, dict) else {}
    code = str(ext.get("code") or code_for_status(status))
    return render_problem(request, code=code, status=status, detail=detail, headers=exc.headers)


def handle_http_exception(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})  # a 405's Allow among them
    return render_problem(
        request,
        code=code_for_status(status),
        status=status,
        detail=_text(exc.detail),
        headers=headers,
    )


def handle_unexpected(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    if is_outage(exc):
        settings = (request.scope.get("state") or {}).get(STATE_SETTINGS)
        retry = settings.unavailable_retry_after_s if settings is not None else 5
        log.warning("dependency unavailable: %r", exc)
        error = unavailable(retry)
        return render_problem(
            request, code=error.code, status=503, detail=error.detail, headers=error.headers
        )
    # The stack goes to the log, never to the client.
    log.error("unhandled exception: %r", exc, exc_info=exc)
    return render_problem(request, code="INTERNAL_ERROR", status=500)


async def send_problem(
    send: Send,
    *,
    code: str,
    status: int,
    detail: str | None = None,
    language: str = "en",
    headers: dict[str, str] | None = None,
) -> None:
    """A problem response straight on the ASGI channel, for answers given
    before Connexion runs (or after it failed)."""
    body = json.dumps(
        problem_body(code=code, status=status, detail=detail, language=language),
        ensure_ascii=False,
    ).encode()
    raw = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", b"%d" % len(body))]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _text(detail: Any) -> str | None:
    return None if detail is None else str(detail)
