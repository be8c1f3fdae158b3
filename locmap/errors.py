"""Domain exceptions that the web layer maps to HTTP statuses and the CLI to exit codes."""

from __future__ import annotations

from typing import Any

__all__ = ["LocmapError", "NotFound", "Forbidden", "Conflict", "InvalidData", "InvalidGeometry",
           "LinkExpired", "TooSlow", "TooLarge"]


class LocmapError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class NotFound(LocmapError):
    """Absent, or not visible to this user (the two are indistinguishable on purpose)."""

    status = 404
    code = "not_found"


class Forbidden(LocmapError):
    status = 403
    code = "forbidden"


class Conflict(LocmapError):
    """Someone else saved first (optimistic locking) or the record is immutable."""

    status = 409
    code = "conflict"


class InvalidData(LocmapError):
    status = 422
    code = "invalid"


class InvalidGeometry(InvalidData):
    code = "invalid_geometry"


class LinkExpired(LocmapError):
    """A one-time link that was used, has expired or never existed (issue 15)."""

    status = 410
    code = "link_expired"


class TooSlow(LocmapError):
    """An analysis ran past its time limit and was stopped (the database cancelled it)."""

    status = 503
    code = "too_slow"


class TooLarge(LocmapError):
    """A file over its size limit (a photo over ``MAX_PHOTO_BYTES``)."""

    status = 413
    code = "too_large"
