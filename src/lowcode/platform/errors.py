"""The one error tree of the service and its catalog of stable codes.

Services raise `AppError` subclasses; `platform.problems` turns them (and
Connexion's own problems) into RFC 9457 problem+json. Each code has a title in
English and Simplified Chinese; the title is chosen by `Accept-Language`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class CodeInfo:
    status: int
    en: str
    zh: str


# Stable machine codes. Add a code here before raising it; the catalog test
# checks that every code has both titles and that the spec's enum matches.
CATALOG: dict[str, CodeInfo] = {
    "BAD_REQUEST": CodeInfo(400, "Bad request", "请求无效"),
    "VALIDATION_FAILED": CodeInfo(400, "Request validation failed", "请求参数校验失败"),
    "UNAUTHORIZED": CodeInfo(401, "Authentication required", "需要身份认证"),
    "INVALID_CREDENTIALS": CodeInfo(401, "Invalid email or password", "邮箱或密码错误"),
    "TOKEN_EXPIRED": CodeInfo(401, "Token expired", "令牌已过期"),
    "TOKEN_INVALID": CodeInfo(401, "Invalid token", "令牌无效"),
    "SESSION_REVOKED": CodeInfo(401, "Session revoked", "会话已被撤销"),
    "FORBIDDEN": CodeInfo(403, "Forbidden", "没有权限"),
    "ACCOUNT_DISABLED": CodeInfo(403, "Account disabled", "账号已被禁用"),
    "NOT_FOUND": CodeInfo(404, "Resource not found", "资源不存在"),
    "USER_NOT_FOUND": CodeInfo(404, "User not found", "用户不存在"),
    "SESSION_NOT_FOUND": CodeInfo(404, "Session not found", "会话不存在"),
    "WORKSPACE_NOT_FOUND": CodeInfo(404, "Workspace not found", "工作空间不存在"),
    "MEMBER_NOT_FOUND": CodeInfo(404, "Member not found", "成员不存在"),
    "PAGE_NOT_FOUND": CodeInfo(404, "Page not found", "页面不存在"),
    "REVISION_NOT_FOUND": CodeInfo(404, "Revision not found", "修订版本不存在"),
    "JOB_NOT_FOUND": CodeInfo(404, "Job not found", "任务不存在"),
    "METHOD_NOT_ALLOWED": CodeInfo(405, "Method not allowed", "不支持该请求方法"),
    "NOT_ACCEPTABLE": CodeInfo(406, "Not acceptable", "无法提供可接受的响应格式"),
    "REQUEST_TIMEOUT": CodeInfo(408, "Request timeout", "请求超时"),
    "CONFLICT": CodeInfo(409, "Conflict", "资源冲突"),
    "EMAIL_TAKEN": CodeInfo(409, "Email already registered", "该邮箱已被注册"),
    "VERSION_CONFLICT": CodeInfo(409, "Version conflict", "版本冲突"),
    "LAST_OWNER": CodeInfo(409, "A workspace needs an owner", "工作空间至少需要一位所有者"),
    "ALREADY_MEMBER": CodeInfo(409, "Already a member", "该用户已是成员"),
    "OP_ID_REUSED": CodeInfo(
        409, "Operation id reused with a different patch", "操作 ID 已用于其他补丁"
    ),
    "JOB_NOT_RETRYABLE": CodeInfo(409, "Job not retryable", "任务不可重试"),
    "JOB_NOT_CANCELABLE": CodeInfo(409, "Job not cancelable", "任务不可取消"),
    "JOB_DUPLICATE": CodeInfo(409, "Duplicate job", "重复的任务"),
    "PRECONDITION_REQUIRED": CodeInfo(428, "Precondition required", "缺少版本前提条件"),
    "PATCH_FAILED": CodeInfo(422, "Patch could not be applied", "补丁无法应用"),
    "INVALID_DOCUMENT": CodeInfo(422, "Invalid page document", "页面文档结构无效"),
    "TOO_LARGE": CodeInfo(413, "Payload too large", "请求内容过大"),
    "UNSUPPORTED_MEDIA_TYPE": CodeInfo(415, "Unsupported media type", "不支持的内容类型"),
    "UNPROCESSABLE": CodeInfo(422, "Unprocessable content", "无法处理的内容"),
    "RATE_LIMITED": CodeInfo(429, "Too many requests", "请求过于频繁"),
    "INTERNAL_ERROR": CodeInfo(500, "Internal server error", "服务器内部错误"),
    "UNAVAILABLE": CodeInfo(503, "Service unavailable", "服务暂不可用"),
    # Migration toggles: flags, OFREP, the legacy backend.
    "FLAG_NOT_FOUND": CodeInfo(404, "Flag not found", "功能开关不存在"),
    "TARGETING_KEY_MISSING": CodeInfo(400, "Targeting key missing", "缺少目标键"),
    "INVALID_CONTEXT": CodeInfo(400, "Invalid evaluation context", "评估上下文无效"),
    "LEGACY_BAD_GATEWAY": CodeInfo(502, "Legacy backend failed", "旧版后端响应无效"),
    "LEGACY_UNAVAILABLE": CodeInfo(503, "Legacy backend unavailable", "旧版后端不可用"),
    "LEGACY_TIMEOUT": CodeInfo(504, "Legacy backend timed out", "旧版后端响应超时"),
    # gRPC peers, SQL, datasources and datasets (issue 9).
    "PEER_UNAVAILABLE": CodeInfo(503, "A backing service is unavailable", "后端服务暂不可用"),
    "PEER_TIMEOUT": CodeInfo(504, "A backing service timed out", "后端服务响应超时"),
    "PEER_REJECTED": CodeInfo(422, "A backing service rejected the request", "后端服务拒绝了请求"),
    "PEER_ERROR": CodeInfo(502, "A backing service failed", "后端服务出错"),
    "INVALID_SQL": CodeInfo(422, "Invalid SQL", "SQL 无效"),
    "DATASOURCE_NOT_FOUND": CodeInfo(404, "Datasource not found", "数据源不存在"),
    "DATASOURCE_HOST_REFUSED": CodeInfo(
        422, "Datasource host not allowed", "不允许连接该数据源主机"
    ),
    "DATASOURCE_UNREACHABLE": CodeInfo(422, "Datasource unreachable", "无法连接数据源"),
    "DATASOURCE_IN_USE": CodeInfo(409, "Datasource in use by datasets", "数据源正被数据集使用"),
    "DATASOURCE_SECRET_UNREADABLE": CodeInfo(
        500, "Datasource password cannot be decrypted", "无法解密数据源密码"
    ),
    "DATASET_NOT_FOUND": CodeInfo(404, "Dataset not found", "数据集不存在"),
    "DATASET_NOT_READ_ONLY": CodeInfo(
        422, "A dataset must be one read-only query", "数据集必须是单条只读查询"
    ),
    "QUERY_TIMEOUT": CodeInfo(422, "Query exceeded the statement timeout", "查询超过语句超时时间"),
    "QUERY_FAILED": CodeInfo(422, "Query failed on the datasource", "查询在数据源上执行失败"),
    # Data syncs (issue 10).
    "DATASET_IN_USE": CodeInfo(409, "Dataset in use by sync jobs", "数据集正被同步任务使用"),
    "SYNC_JOB_NOT_FOUND": CodeInfo(404, "Sync job not found", "同步任务不存在"),
    "SYNC_RUN_NOT_FOUND": CodeInfo(404, "Sync run not found", "同步运行记录不存在"),
    "SYNC_RUN_ACTIVE": CodeInfo(
        409, "A run of this sync job is already active", "该同步任务已有正在进行的运行"
    ),
    "SYNC_RUN_ENDED": CodeInfo(409, "The sync run has already ended", "该同步运行已结束"),
    "SYNC_SCHEDULE_INVALID": CodeInfo(422, "Invalid schedule", "调度表达式无效"),
    "SYNC_SOURCE_INVALID": CodeInfo(422, "Sync source cannot be read", "无法读取同步源"),
    "SYNC_SINK_INVALID": CodeInfo(
        422, "Sync sink cannot take the rows", "同步目标无法写入这些数据"
    ),
    "SYNC_JOB_INVALID": CodeInfo(422, "Invalid sync job", "同步任务定义无效"),
}

# When a problem arrives with only an HTTP status (Connexion, Starlette), this
# is the code it gets.
CODE_FOR_STATUS: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    428: "PRECONDITION_REQUIRED",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "UNAVAILABLE",
}


def code_for_status(status: int) -> str:
    return CODE_FOR_STATUS.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field problem of a validation error: where (`field`, a JSON-pointer-like
    dotted path or a parameter name), where it came from, and what is wrong."""

    field: str
    message: str
    location: str = "body"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "in": self.location, "message": self.message}


class AppError(Exception):
    """Base of every error a service raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or CATALOG[self.code].en)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra

    @property
    def status(self) -> int:
        return CATALOG[self.code].status


class Invalid(AppError):
    code = "VALIDATION_FAILED"


class Unauthorized(AppError):
    code = "UNAUTHORIZED"


class Forbidden(AppError):
    code = "FORBIDDEN"


class NotFound(AppError):
    code = "NOT_FOUND"


class Conflict(AppError):
    code = "CONFLICT"


class TooLarge(AppError):
    code = "TOO_LARGE"


class Unprocessable(AppError):
    code = "UNPROCESSABLE"


class RateLimited(AppError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after_s: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class Unavailable(AppError):
    code = "UNAVAILABLE"


class VersionConflict(Conflict):
    """Optimistic-lock failure; carries the version the client should resync to."""

    code = "VERSION_CONFLICT"

    def __init__(self, current_version: int | None, detail: str | None = None) -> None:
        super().__init__(
            detail or f"the document is at version {current_version}; reload and retry",
            currentVersion=current_version,
        )
