"""`metav1.Status` bodies and the exception that carries one to the HTTP layer."""

from __future__ import annotations

from typing import Any

from imageupdater.errors import ImageUpdaterError

JSON = dict[str, Any]

# The reason kube-apiserver attaches to each status code it answers with on its own.
REASONS: dict[int, str] = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    504: "Timeout",
}


def status_body(
    code: int,
    message: str,
    *,
    reason: str | None = None,
    details: JSON | None = None,
) -> JSON:
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "code": code,
    }
    chosen = REASONS.get(code, "") if reason is None else reason
    if chosen:
        body["reason"] = chosen
    if details:
        body["details"] = details
    return body


class ApiError(ImageUpdaterError):
    """A request the emulator answers with a non-2xx Status, as kube-apiserver would."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: JSON | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.details = details
        self.headers = headers or {}

    def body(self) -> JSON:
        return status_body(self.code, self.message, reason=self.reason, details=self.details)

    @classmethod
    def from_status(cls, status: JSON) -> ApiError:
        return cls(
            int(status.get("code", 500)),
            str(status.get("message", "")),
            reason=str(status.get("reason", "")),
            details=status.get("details"),
        )


def not_found(group: str, plural: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        404,
        f'{qualified} "{name}" not found',
        details={"name": name, "group": group, "kind": plural},
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'{qualified} "{name}" already exists',
        reason="AlreadyExists",
        details={"name": name, "group": group, "kind": plural},
    )


def conflict(group: str, plural: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details={"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, name: str, field: str, value: object, detail: str) -> ApiError:
    return ApiError(
        422,
        f'{kind} "{name}" is invalid: {field}: Invalid value: {value!r}: {detail}',
        details={"name": name, "kind": kind, "causes": [{"field": field, "message": detail}]},
    )
