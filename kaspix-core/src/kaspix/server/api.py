"""The JSON API under ``/api``: pipelines, jobs (submit, list, detail, cancel, resume, delete), logs, live events, files.

Request bodies are parsed here, not by FastAPI, so that every failure (a missing field, an
upload over the cap) answers with the one error body; YAML parsing and config validation run in
a worker thread, off the event loop, one upload at a time.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from kaspix.config import config_to_yaml
from kaspix.server.errors import ApiError
from kaspix.server.events import EventHub
from kaspix.server.models import (
    Deleted,
    FileEntry,
    JobDetail,
    JobSummary,
    LogChunk,
    PipelineInfo,
    ResumeRequest,
    error_responses,
)
from kaspix.server.views import IMAGE_TYPES, JobViews

__all__ = ["api_router"]

MAX_LOG_CHUNK = 256 * 1024
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no buffering in nginx and the like

SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "pipeline": {"type": "string", "description": "pipeline name, or plugin:name"},
                        "plugin": {"type": "string", "description": "plugin (optional; alone it picks the plugin's default pipeline)"},
                        "config_text": {"type": "string", "description": "YAML config; fields left out keep their defaults"},
                        "config_file": {"type": "string", "format": "binary", "description": "YAML config file (instead of config_text)"},
                    },
                }
            }
            for media in ("multipart/form-data", "application/x-www-form-urlencoded")
        },
    }
}
RESUME_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": ResumeRequest.model_json_schema(by_alias=True)}},
    }
}


def _stream_doc(what: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": what, "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def _text_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise ApiError(422, f"form field {name!r} must be text, not a file", field=name)
    return value or None


def api_router(views: JobViews, hub: EventHub, *, max_upload: int) -> APIRouter:
    """The ``/api`` routes over ``views`` (and its job manager) and the live ``hub``."""
    manager = views.manager
    router = APIRouter(prefix="/api")
    pipelines_cache: list[dict[str, Any]] = []
    parsing: list[anyio.CapacityLimiter] = []  # one config parsed at a time: a 1 MB YAML costs seconds of CPU

    @router.get("/pipelines", response_model=list[PipelineInfo], responses=error_responses())
    def pipelines() -> list[dict[str, Any]]:
        """Every registered pipeline with its steps and its default config as YAML."""
        if not pipelines_cache:
            pipelines_cache.extend(
                {
                    "plugin": part.plugin,
                    "name": part.name,
                    "description": part.description,
                    "steps": part.obj.step_names,
                    "default_config": config_to_yaml(part.obj.config_model()),
                }
                for part in sorted(manager.host.parts.pipelines, key=lambda p: (p.plugin, p.name))
            )
        return pipelines_cache

    @router.get("/jobs", response_model=list[JobSummary], responses=error_responses())
    async def list_jobs() -> Response:
        """The newest 100 jobs first: status, start, duration, step progress, key metrics."""
        body = views.fresh("list") or await run_in_threadpool(views.list_json)
        return Response(body, media_type="application/json")

    @router.post("/jobs", status_code=201, response_model=JobSummary, responses=error_responses(400, 413, 422), openapi_extra=SUBMIT_BODY)
    async def submit(request: Request) -> JSONResponse:
        """Queue a pipeline with a YAML config (a file or text; empty means the defaults); it starts when a slot is free."""
        form = await request.form(max_files=1, max_fields=8, max_part_size=max_upload)
        try:
            pipeline, plugin = _text_field(form, "pipeline"), _text_field(form, "plugin")
            source, text = "config text", _text_field(form, "config_text") or ""
            upload = form.get("config_file")
            if isinstance(upload, UploadFile) and upload.filename:
                source = upload.filename
                try:
                    text = (await upload.read()).decode("utf-8")
                except UnicodeDecodeError:
                    raise ApiError(422, "the uploaded config is not UTF-8 text", field="config_file", where=source) from None
        finally:
            await form.close()
        if not pipeline and not plugin:
            raise ApiError(
                422, "say which pipeline to run", field="pipeline", hint="send the form field 'pipeline'; GET /api/pipelines lists them"
            )

        def queue() -> dict[str, Any]:
            return views.summary(manager.submit(pipeline=pipeline, plugin=plugin, config_text=text, source=source))

        if not parsing:  # made here, in the event loop
            parsing.append(anyio.CapacityLimiter(1))
        return JSONResponse(await anyio.to_thread.run_sync(queue, limiter=parsing[0]), status_code=201)

    @router.get("/jobs/{job_id}", response_model=JobDetail, responses=error_responses(404, 422))
    async def job_detail(job_id: int) -> Response:
        """The job with its steps, metrics and plots."""
        body = views.fresh(job_id) or await run_in_threadpool(views.detail_json, job_id)
        return Response(body, media_type="application/json")

    @router.post("/jobs/{job_id}/cancel", response_model=JobSummary, responses=error_responses(404, 409, 422))
    def cancel(job_id: int) -> JSONResponse:
        """Stop a queued or running job (its process group gets SIGINT, then SIGTERM and SIGKILL); the run folder stays, resumable."""
        return JSONResponse(views.summary(manager.cancel(job_id)))

    @router.post(
        "/jobs/{job_id}/resume", response_model=JobSummary, responses=error_responses(404, 409, 413, 422), openapi_extra=RESUME_BODY
    )
    async def resume(job_id: int, request: Request) -> JSONResponse:
        """Queue a failed, interrupted or cancelled job to continue at its first unfinished step, optionally with config changes."""
        raw = await request.body()
        changes: list[str] = []
        if raw.strip():
            try:
                changes = ResumeRequest.model_validate_json(raw).changes
            except ValidationError as exc:
                loc = ".".join(str(p) for p in exc.errors()[0]["loc"]) or None
                raise ApiError(
                    422, f"cannot read the body: {exc.errors()[0]['msg']}", field=loc, hint='send JSON like {"set": ["a.b=VALUE"]}'
                ) from None
        return JSONResponse(await run_in_threadpool(lambda: views.summary(manager.resume(job_id, changes))))

    @router.delete("/jobs/{job_id}", response_model=Deleted, responses=error_responses(404, 409, 422))
    def delete(job_id: int, run_folder: bool = Query(False, description="also remove the job's run folder")) -> JSONResponse:
        """Forget a finished job; with ``run_folder=true`` its run folder goes too."""
        return JSONResponse({"id": job_id, "run_folder_removed": manager.delete(job_id, run_folder=run_folder)})

    @router.get("/jobs/{job_id}/log", response_model=LogChunk, responses=error_responses(404, 422))
    def job_log(job_id: int, offset: int = Query(0, ge=0, description="byte offset to read from")) -> JSONResponse:
        """The job's console output from byte ``offset`` on (at most 256 KiB); /events follows it live."""
        path = manager.output_path(manager.get(job_id))
        chunk = b""
        if path.is_file():
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(MAX_LOG_CHUNK)
        return JSONResponse({"text": chunk.decode("utf-8", errors="replace"), "offset": offset + len(chunk)})

    @router.get(
        "/jobs/{job_id}/events",
        response_class=StreamingResponse,
        responses={**_stream_doc("job, log and end events"), **error_responses(404, 422)},
    )
    async def job_events(
        job_id: int, request: Request, offset: int = Query(0, ge=0, description="byte of the output to start at (Last-Event-ID wins)")
    ) -> StreamingResponse:
        """Server-sent events: ``job`` (the detail, again whenever it changes), ``log`` (new output), ``end`` (the job is over)."""
        job = await run_in_threadpool(manager.get, job_id)
        first = await run_in_threadpool(views.detail, job)
        last = request.headers.get("last-event-id", "")
        cursor = int(last) if last.isdigit() else offset
        return StreamingResponse(
            hub.job_stream(job_id, manager.output_path(job), cursor, first), media_type="text/event-stream", headers=SSE_HEADERS
        )

    @router.get("/events", response_class=StreamingResponse, responses={**_stream_doc("jobs events"), **error_responses()})
    async def list_events() -> StreamingResponse:
        """Server-sent events: ``jobs`` (the jobs list, again whenever it changes)."""
        return StreamingResponse(hub.list_stream(), media_type="text/event-stream", headers=SSE_HEADERS)

    @router.get("/jobs/{job_id}/files", response_model=list[FileEntry], responses=error_responses(404, 422))
    def files(job_id: int) -> JSONResponse:
        """Every file of the job's run folder, paths relative to it (no link that leads outside)."""
        return JSONResponse(views.files(manager.get(job_id)))

    @router.get(
        "/jobs/{job_id}/files/{relative:path}",
        response_class=FileResponse,
        responses={200: {"description": "the file", "content": {"application/octet-stream": {}}}, **error_responses(404, 422)},
    )
    def download(job_id: int, relative: str, inline: bool = Query(False, description="show an image in the page")) -> FileResponse:
        """One file of the run folder; images may be shown inline, anything else is a download."""
        path = views.file(manager.get(job_id), relative)
        media = IMAGE_TYPES.get(path.suffix.lower())
        return FileResponse(
            path,
            filename=path.name,
            media_type=media,
            content_disposition_type="inline" if inline and media else "attachment",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    return router
