"""The pages: the single-page UI, and the login form that sets the session cookie.

Links in the pages are relative, so the server also works behind a reverse proxy that serves
it under a path prefix (``/kaspix/``).
"""

from __future__ import annotations

import asyncio
import hmac
from html import escape
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kaspix.server.guard import SESSION_COOKIE, session_value
from kaspix.server.models import error_responses

__all__ = ["pages_router"]

#: How long the session cookie lasts.
SESSION_DAYS = 7
#: A wrong token costs this long, to slow down guessing.
WRONG_TOKEN_DELAY_S = 0.5

HTML = {"content": {"text/html": {}}}


def _page(name: str) -> str:
    return resources.files("kaspix.server").joinpath(f"static/{name}").read_text(encoding="utf-8")


def pages_router(token: str | None) -> APIRouter:
    """``/``, ``/login`` and ``/logout``; ``token`` is the server's token (None: no login)."""
    router = APIRouter()
    logout = '<form method="post" action="logout"><button type="submit" id="logout">Log out</button></form>' if token else ""
    index_html, login_html = _page("index.html").replace("<!--logout-->", logout), _page("login.html")

    def login_form(message: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(login_html.replace("<!--message-->", escape(message)), status_code=status)

    @router.get(
        "/",
        response_class=HTMLResponse,
        responses={303: {"description": "to the login page, without a session"}, **error_responses(guarded=False)},
    )
    def index() -> HTMLResponse:
        """The jobs page."""
        return HTMLResponse(index_html)

    @router.get(
        "/login",
        response_class=HTMLResponse,
        responses={303: {"description": "to the jobs page, when there is no token"}, **error_responses(guarded=False)},
    )
    def login_page() -> Response:
        """The login form (only when the server has a token)."""
        if not token:
            return RedirectResponse("./", status_code=303)
        return login_form("")

    @router.post(
        "/login",
        response_class=HTMLResponse,
        responses={
            303: {"description": "logged in: to the jobs page, with the session cookie"},
            401: {"description": "wrong token", **HTML},
            **error_responses(413, guarded=False),
        },
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"token": {"type": "string"}}}}
                }
            }
        },
    )
    async def login(request: Request) -> Response:
        """Check the token; set an HttpOnly, SameSite=Strict session cookie (Secure over https)."""
        if not token:
            return RedirectResponse("./", status_code=303)
        form = await request.form(max_files=0, max_fields=4)
        given = form.get("token")
        if not isinstance(given, str) or not hmac.compare_digest(given.strip().encode(), token.encode()):
            await asyncio.sleep(WRONG_TOKEN_DELAY_S)
            return login_form("Wrong token.", status=401)
        response = RedirectResponse("./", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_value(token),
            max_age=SESSION_DAYS * 86400,
            path=None,  # the login page's folder: works under a proxy's path prefix too
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post(
        "/logout", status_code=303, responses={303: {"description": "to the login page, the session cookie removed"}, **error_responses()}
    )
    def logout() -> Response:
        """Forget the session cookie."""
        response = RedirectResponse("login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=None)
        return response

    return router
