"""The shapes of the API's answers and requests, as documented in ``/openapi.json``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kaspix.server.errors import ErrorBody

__all__ = [
    "ERROR_DESCRIPTIONS",
    "Deleted",
    "FileEntry",
    "JobDetail",
    "JobStatus",
    "JobSummary",
    "LogChunk",
    "PipelineInfo",
    "ResumeRequest",
    "error_responses",
]

JobStatus = Literal["queued", "running", "cancelling", "completed", "failed", "interrupted", "cancelled"]


class JobSummary(BaseModel):
    """One job as the jobs list shows it."""

    id: int
    plugin: str
    pipeline: str
    status: JobStatus
    run_dir: str = Field(description="the run folder, relative to the server's runs folder")
    pid: int | None = Field(description="the job's process (the leader of its process group) while it runs")
    exit_code: int | None
    created: str
    started: str | None = Field(description="when its latest process started (ISO 8601, UTC)")
    finished: str | None
    duration_s: float | None = Field(description="seconds from start to end, or to now while it runs")
    queue_position: int | None = Field(description="1 for the next job to start, while queued")
    steps_done: int
    steps_total: int
    current_step: str | None
    key_metrics: dict[str, float] = Field(description="the first numeric entries of the run's metrics.json")


class JobDetail(JobSummary):
    """One job with its run's progress, metrics and plots."""

    steps: list[str]
    completed_steps: list[str]
    run_status: str | None = Field(description="run.json's status as the core reads it (a dead owner reads as interrupted)")
    error: str | None
    metrics: dict[str, Any]
    plots: list[str] = Field(description="PNG files under artifacts/, paths relative to the run folder")


class PipelineInfo(BaseModel):
    """A pipeline that can be started."""

    plugin: str
    name: str
    description: str
    steps: list[str]
    default_config: str = Field(description="the default config as YAML")


class LogChunk(BaseModel):
    """Console output of a job from a byte offset on."""

    text: str
    offset: int = Field(description="where the next read starts")


class FileEntry(BaseModel):
    """A file of a job's run folder."""

    path: str = Field(description="relative to the run folder")
    size: int


class Deleted(BaseModel):
    """What a delete removed."""

    id: int
    run_folder_removed: bool


class ResumeRequest(BaseModel):
    """Optional body of a resume: config changes for the remaining steps, as ``kaspix run --resume DIR --set``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    changes: list[str] = Field(default=[], alias="set", description="a.b=VALUE items")


ERROR_DESCRIPTIONS = {
    400: "Malformed request (a form that cannot be parsed)",
    401: "No token or a wrong one (only when the server has a token)",
    404: "No such job, file or page",
    405: "Method not allowed",
    409: "Not possible in the job's state (cancel a finished job, resume a running one, delete a running one)",
    413: "The upload is larger than --max-upload; refused before it is read",
    422: "Invalid input: a missing form field, invalid YAML, an invalid config field, an unknown plugin or pipeline",
    500: "A bug in the server",
}


def error_responses(*codes: int, guarded: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, plus 500, and 401 for what the token guards."""
    every = {*codes, 500, *((401,) if guarded else ())}
    return {code: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]} for code in sorted(every)}
