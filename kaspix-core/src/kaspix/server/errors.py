"""The job server's one error body, and the error that carries it from anywhere to the client.

Every failure answers ``{"status", "message", "field", "where", "hint", "problems"}`` with the
HTTP status it names: 401 no or wrong token, 404 unknown job or file, 409 not possible in the
job's state, 413 an upload larger than the cap, 422 invalid input (a form field, the
YAML, a config field, an unknown pipeline), 500 a bug in the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from kaspix.config import format_validation_error
from kaspix.errors import KaspixError

__all__ = ["ApiError", "ErrorBody", "Problem", "config_invalid"]


class Problem(BaseModel):
    """One problem of an invalid input."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """What every failed request answers."""

    status: int
    message: str
    field: str | None = None
    where: str | None = None
    hint: str | None = None
    problems: list[Problem] = []


class ApiError(KaspixError):
    """A failure to report to the client with an HTTP status and the error body.

    Args:
        status: The HTTP status.
        message: What is wrong.
        field: The request or config field at fault (a dotted path), if any.
        where: Where it is wrong (an uploaded file and line), if known.
        hint: How to fix it.
        problems: Every problem, when there are several (an invalid config).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        where: str | None = None,
        hint: str | None = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        super().__init__(message, where=where, hint=hint)
        self.status = status
        self.field = field
        self.problems = list(problems)

    @classmethod
    def from_user_error(cls, exc: KaspixError, *, status: int = 422, field: str | None = None) -> ApiError:
        """The same mistake, as an answer with ``status``."""
        return cls(status, exc.message, field=field, where=exc.where, hint=exc.hint)

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return ErrorBody(
            status=self.status, message=self.message, field=self.field, where=self.where, hint=self.hint, problems=self.problems
        ).model_dump()


def config_invalid(model: type[BaseModel], exc: ValidationError, *, source: str) -> ApiError:
    """A 422 for a config that fails validation: the CLI's message, and each field path apart."""
    problems = [Problem(field=".".join(str(p) for p in error["loc"]) or "(top level)", message=error["msg"]) for error in exc.errors()]
    return ApiError(
        422,
        format_validation_error(model, exc, source=source, overridden=set()),
        field=problems[0].field if problems else None,
        where=source,
        hint="GET /api/pipelines gives each pipeline's default config with every field",
        problems=problems,
    )
