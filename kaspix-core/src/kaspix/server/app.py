"""The FastAPI application: a JSON API over the job manager, and the single-page UI."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from kaspix.config import config_to_yaml
from kaspix.errors import KaspixError
from kaspix.plugins import PluginHost
from kaspix.runs import STATE_FILE, RunDirectory
from kaspix.server.jobs import JobManager, JobNotFound

MAX_LOG_CHUNK = 256 * 1024


def create_app(data_dir: str | Path, host: PluginHost) -> FastAPI:
    """Build the app; jobs, configs and run folders live under ``data_dir``."""
    jobs = JobManager(data_dir, host)
    app = FastAPI(title="kaspix job server")
    app.state.jobs = jobs

    @app.exception_handler(KaspixError)
    async def user_error(_request: Any, exc: KaspixError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404 if isinstance(exc, JobNotFound) else 400)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return resources.files("kaspix.server").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/api/pipelines")
    def pipelines() -> list[dict[str, Any]]:
        """Every registered pipeline with its default config as YAML."""
        return [
            {
                "plugin": part.plugin,
                "name": part.name,
                "description": part.description,
                "steps": part.obj.step_names,
                "default_config": config_to_yaml(part.obj.config_model()),
            }
            for part in sorted(host.parts.pipelines, key=lambda p: (p.plugin, p.name))
        ]

    @app.post("/api/jobs", status_code=201)
    async def submit(
        pipeline: Annotated[str, Form()],
        plugin: Annotated[str | None, Form()] = None,
        config_text: Annotated[str | None, Form()] = None,
        config_file: Annotated[UploadFile | None, File()] = None,
    ) -> dict[str, Any]:
        """Start a pipeline with an uploaded YAML config (file or text; empty means defaults)."""
        source = "config text"
        text = config_text or ""
        if config_file is not None and config_file.filename:
            source = config_file.filename
            try:
                text = (await config_file.read()).decode("utf-8")
            except UnicodeDecodeError:
                raise KaspixError("the uploaded config is not UTF-8 text", where=source) from None
        return jobs.submit(pipeline=pipeline, plugin=plugin, config_text=text, source=source).as_dict()

    @app.get("/api/jobs")
    def list_jobs() -> list[dict[str, Any]]:
        return [job.as_dict() for job in jobs.list()]

    @app.get("/api/jobs/{job_id}")
    def job_detail(job_id: int) -> dict[str, Any]:
        """The job, with the run's steps and metrics once its run folder exists."""
        job = jobs.get(job_id)
        detail: dict[str, Any] = job.as_dict()
        run_path = Path(job.run_dir)
        if (run_path / STATE_FILE).is_file():
            run = RunDirectory(run_path)
            state = run.live_state()
            detail.update(steps=state.steps, completed_steps=state.completed_steps, error=state.error, metrics=run.read_metrics())
        return detail

    @app.get("/api/jobs/{job_id}/log")
    def job_log(job_id: int, offset: int = 0) -> dict[str, Any]:
        """Log text from byte ``offset`` on; poll with the returned offset to follow it live."""
        path = jobs.output_path(jobs.get(job_id))
        if not path.is_file():
            return {"text": "", "offset": offset}
        with path.open("rb") as handle:
            handle.seek(max(offset, 0))
            chunk = handle.read(MAX_LOG_CHUNK)
        return {"text": chunk.decode("utf-8", errors="replace"), "offset": max(offset, 0) + len(chunk)}

    @app.get("/api/jobs/{job_id}/files")
    def job_files(job_id: int) -> list[dict[str, Any]]:
        """Every file of the job's run folder (config, state, log, metrics, artifacts)."""
        root = Path(jobs.get(job_id).run_dir)
        if not root.is_dir():
            return []
        return [
            {"path": p.relative_to(root).as_posix(), "size": p.stat().st_size}
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        ]

    @app.get("/api/jobs/{job_id}/files/{relative:path}")
    def download(job_id: int, relative: str) -> FileResponse:
        root = Path(jobs.get(job_id).run_dir).resolve()
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(status_code=404, detail=f"no file {relative!r} in job {job_id}")
        return FileResponse(target, filename=target.name)

    @app.post("/api/jobs/{job_id}/resume")
    def resume(job_id: int) -> dict[str, Any]:
        return jobs.resume(job_id).as_dict()

    return app
