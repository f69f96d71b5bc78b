"""The FastAPI application: the API, the pages, the guard in front, one error body, and serving it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import FrameType

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kaspix import __version__
from kaspix.errors import KaspixError
from kaspix.plugins import PluginHost
from kaspix.server.api import api_router
from kaspix.server.errors import ApiError, Problem
from kaspix.server.events import EventHub
from kaspix.server.guard import Guard
from kaspix.server.jobs import DEFAULT_CANCEL_GRACE_S, JobManager
from kaspix.server.pages import pages_router
from kaspix.server.views import JobViews

__all__ = ["DEFAULT_MAX_UPLOAD", "create_app", "run_server"]

log = logging.getLogger("kaspix.server")

#: The largest upload (request body) accepted by default: 1 MiB.
DEFAULT_MAX_UPLOAD = 1024 * 1024

DESCRIPTION = """Start any installed plugin's pipeline, follow it live, cancel, resume, download its files.

Every failure answers `{"status", "message", "field", "where", "hint", "problems"}`.
With a token, send `Authorization: Bearer TOKEN` (or log in on the page for a session cookie).
"""


def create_app(
    data_dir: str | Path,
    host: PluginHost,
    *,
    runs_dir: str | Path | None = None,
    max_jobs: int | None = None,
    token: str | None = None,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    cancel_grace: float = DEFAULT_CANCEL_GRACE_S,
) -> FastAPI:
    """Build the app; see :class:`~kaspix.server.jobs.JobManager` for the folders and the queue.

    Jobs start being supervised (and queued ones started) when the app starts up.

    Args:
        data_dir: The job database, uploaded configs and console output.
        host: The loaded plugins.
        runs_dir: Where run folders go (default ``data_dir/runs``).
        max_jobs: How many jobs run at once (default: 1 on up to 2 cores, else half the cores).
        token: The token every request needs (None: none needed).
        max_upload: The largest request body accepted, in bytes.
        cancel_grace: Seconds between SIGINT, SIGTERM and SIGKILL when a job is cancelled.
    """
    manager = JobManager(data_dir, host, runs_dir=runs_dir, max_jobs=max_jobs, cancel_grace=cancel_grace)
    views = JobViews(manager)
    hub = EventHub(views)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(manager.start)
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            await anyio.to_thread.run_sync(manager.close)

    app = FastAPI(title="kaspix job server", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.jobs, app.state.views, app.state.hub = manager, views, hub
    app.add_middleware(Guard, token=token, max_upload=max_upload)
    _answer_errors_in_one_shape(app)
    app.include_router(pages_router(token))
    app.include_router(api_router(views, hub, max_upload=max_upload))
    return app


def _error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    if error.status == 413:
        extra["Connection"] = "close"  # the rest of the upload is not read
    if error.status == 401:
        extra["WWW-Authenticate"] = 'Bearer realm="kaspix"'
    return JSONResponse(error.body(), status_code=error.status, headers=extra)


def _answer_errors_in_one_shape(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(KaspixError)
    async def user_error(_request: Request, exc: KaspixError) -> JSONResponse:
        return _error_response(ApiError.from_user_error(exc))

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return _error_response(ApiError(exc.status_code, message), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            where = ".".join(loc[1:] if loc and loc[0] in ("path", "query", "header", "body", "cookie") else loc)
            problems.append(Problem(field=where or "(request)", message=str(error.get("msg", "invalid"))))
        first = problems[0] if problems else Problem(field="(request)", message="invalid request")
        return _error_response(ApiError(422, f"{first.field}: {first.message}", field=first.field, problems=problems))

    @app.exception_handler(Exception)
    async def server_bug(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return _error_response(
            ApiError(500, f"internal server error ({type(exc).__name__})", hint="the server's console has the traceback")
        )


def run_server(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until SIGINT or SIGTERM; open event streams are ended at once then."""
    import uvicorn

    hub: EventHub = app.state.hub

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            hub.close_streams_soon()
            super().handle_exit(sig, frame)

    Server(uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)).run()
