"""One error tree for the whole project, keyed by Kubernetes Status reason.

Every layer raises these (storage raises NotFound/AlreadyExists/Conflict/Gone with plain
messages; the API server re-raises with upstream wording via ``raise ... from exc``). The API
server turns any ``KubeError`` into a ``metav1.Status`` body with :meth:`KubeError.status`;
the HTTP client turns a Status body back into the matching class with :func:`from_status`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Cause:
    """One ``details.causes[]`` entry: what is wrong, where (field path), and why."""

    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass(eq=False)
class KubeError(Exception):
    """Base: an error that maps to a metav1.Status."""

    message: str
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int = 0

    reason: ClassVar[str] = "InternalError"
    code: ClassVar[int] = 500
    #: Upstream's constructor for this reason always sets ``Details`` (a pointer), so the
    #: body carries ``"details":{}`` even when nothing is in it (NotFound for an unknown
    #: path); BadRequest, Unauthorized, Gone, 406 and 415 leave it out.
    always_details: ClassVar[bool] = True

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        """The metav1.Status body for this error, as kube-apiserver writes it."""
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            details["retryAfterSeconds"] = self.retry_after_seconds
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if not self.reason:  # omitempty, as upstream (414 and 431 have no reason)
            del body["reason"]
        if details or self.always_details:
            body["details"] = details
        body["code"] = self.code  # last, as upstream's encoder writes metav1.Status
        return body


class BadRequest(KubeError):
    reason = "BadRequest"
    code = 400
    always_details = False


class Unauthorized(KubeError):
    reason = "Unauthorized"
    code = 401
    always_details = False


class Forbidden(KubeError):
    reason = "Forbidden"
    code = 403


class NotFound(KubeError):
    reason = "NotFound"
    code = 404


class MethodNotAllowed(KubeError):
    reason = "MethodNotAllowed"
    code = 405


class NotAcceptable(KubeError):
    reason = "NotAcceptable"
    code = 406
    always_details = False


class AlreadyExists(KubeError):
    reason = "AlreadyExists"
    code = 409


class Conflict(KubeError):
    reason = "Conflict"
    code = 409


class Gone(KubeError):
    """A resourceVersion older than the store keeps (compacted): re-list."""

    reason = "Expired"
    code = 410
    always_details = False


class RequestEntityTooLarge(KubeError):
    reason = "RequestEntityTooLarge"
    code = 413
    always_details = False


class RequestURITooLong(KubeError):
    reason = ""  # upstream has no StatusReason for 414
    code = 414
    always_details = False


class RequestHeaderFieldsTooLarge(KubeError):
    reason = ""  # nor for 431
    code = 431
    always_details = False


class UnsupportedMediaType(KubeError):
    reason = "UnsupportedMediaType"
    code = 415
    always_details = False


class Invalid(KubeError):
    """Validation failed; ``causes`` carry field paths. Message as upstream:
    ``Service "x" is invalid: spec.ports[0].port: Invalid value: 0: must be between ...``"""

    reason = "Invalid"
    code = 422


class TooManyRequests(KubeError):
    reason = "TooManyRequests"
    code = 429


class InternalError(KubeError):
    reason = "InternalError"
    code = 500


class ServiceUnavailable(KubeError):
    reason = "ServiceUnavailable"
    code = 503
    always_details = False


class Timeout(KubeError):
    reason = "Timeout"
    code = 504


_BY_REASON: dict[str, type[KubeError]] = {
    cls.reason: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        AlreadyExists,
        Conflict,
        Gone,
        RequestEntityTooLarge,
        UnsupportedMediaType,
        Invalid,
        TooManyRequests,
        InternalError,
        ServiceUnavailable,
        Timeout,
    )
}
_BY_REASON["Gone"] = Gone


def from_status(body: dict[str, Any], *, http_code: int = 0) -> KubeError:
    """Rebuild the matching error from a metav1.Status body (used by the HTTP client)."""
    reason = str(body.get("reason") or "")
    cls = _BY_REASON.get(reason)
    if cls is None:
        code = int(body.get("code") or http_code or 500)
        cls = next((c for c in _BY_REASON.values() if c.code == code), InternalError)
    details = body.get("details") or {}
    causes = [
        Cause(reason=c.get("reason", ""), message=c.get("message", ""), field=c.get("field", ""))
        for c in details.get("causes") or []
    ]
    return cls(
        message=str(body.get("message") or reason or "unknown error"),
        name=str(details.get("name") or ""),
        group=str(details.get("group") or ""),
        kind=str(details.get("kind") or ""),
        causes=causes,
        retry_after_seconds=int(details.get("retryAfterSeconds") or 0),
    )


def invalid(kind: str, name: str, causes: list[Cause], *, group: str = "") -> Invalid:
    """Build an Invalid error with upstream's aggregated message (``errors.NewInvalid``).

    ``<Kind>[.<group>] "<name>" is invalid: <field>: <message>`` for one cause,
    ``[<field>: <message>, <field>: <message>]`` for several (repeats dropped from the
    message, kept in ``causes``), and just ``... is invalid`` for none.
    """
    parts: list[str] = []
    for c in causes:
        part = f"{c.field}: {c.message}" if c.field else c.message
        if part not in parts:
            parts.append(part)
    qualified = f"{kind}.{group}" if group else kind
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    message = f"{qualified} {quoted} is invalid"
    if parts:
        agg = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        message += f": {agg}"
    return Invalid(message=message, name=name, kind=kind, group=group, causes=causes)
