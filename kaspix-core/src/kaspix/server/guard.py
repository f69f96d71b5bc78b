"""Who may use the server: the token and the upload cap, checked before a request reaches the app.

With a token, every request but the login page needs ``Authorization: Bearer TOKEN`` or the
session cookie that logging in sets (an HMAC of the token, so changing the token logs everyone
out). A page request without either is sent to the login page; an API request gets a 401.
A request whose declared length exceeds the cap gets a 413 at once, and the connection is
closed, so nothing of it is read; a chunked one is counted as it arrives and stopped the same way.
``kaspix serve`` refuses an address beyond loopback without a token (:func:`check_exposure`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from kaspix.errors import KaspixError
from kaspix.server.errors import ApiError

__all__ = [
    "PUBLIC_PATHS",
    "SESSION_COOKIE",
    "Guard",
    "check_exposure",
    "parse_size",
    "session_value",
    "too_large",
    "valid_session",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "kaspix_session"
#: Paths anyone may reach: the login page and its form.
PUBLIC_PATHS = frozenset({"/login"})


def session_value(token: str) -> str:
    """The session cookie's value for ``token``."""
    return hmac.new(token.encode(), b"kaspix serve session", hashlib.sha256).hexdigest()


def valid_session(cookie_header: str, token: str) -> bool:
    """True when the ``Cookie`` header carries the session cookie for ``token``."""
    expected = session_value(token)
    for item in cookie_header.split(";"):
        name, _, value = item.strip().partition("=")
        if name == SESSION_COOKIE and hmac.compare_digest(value.encode(), expected.encode()):
            return True
    return False


def too_large(limit: int, size: int | None = None) -> ApiError:
    """The 413 for an upload over ``limit`` bytes."""
    got = f" ({size} bytes)" if size is not None else ""
    return ApiError(
        413,
        f"the upload is larger than this server accepts{got}: at most {limit} bytes",
        hint="configs are small YAML files; the server's --max-upload sets the limit",
    )


class Guard:
    """ASGI middleware: token check and upload cap, in front of the app.

    Args:
        app: The application.
        token: The token every request needs; None serves everyone (loopback only, see ``kaspix serve``).
        max_upload: The largest request body accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, max_upload: int) -> None:
        self.app = app
        self.token = token
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        if self.token and scope["path"] not in PUBLIC_PATHS and not self._authorized(headers):
            if scope["method"] == "GET" and "text/html" in headers.get("accept", "") and not scope["path"].startswith("/api/"):
                await _send(send, 303, b"", [(b"location", b"login")])
                return
            wrong = "authorization" in headers or SESSION_COOKIE in headers.get("cookie", "")
            error = ApiError(
                401,
                "wrong token" if wrong else "this server needs a token",
                hint="send 'Authorization: Bearer TOKEN' or log in on the page; the token is the server's --token (KASPIX_SERVE_TOKEN)",
            )
            await _send_error(send, error, [(b"www-authenticate", b'Bearer realm="kaspix"')])
            return
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await _send_error(send, ApiError(400, "Content-Length is not a number"), [(b"connection", b"close")])
            elif int(length) > self.max_upload:
                await _send_error(send, too_large(self.max_upload, int(length)), [(b"connection", b"close")])
            else:
                await self.app(scope, receive, send)
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            receive = self._capped(receive)
        await self.app(scope, receive, send)

    def _authorized(self, headers: dict[str, str]) -> bool:
        assert self.token is not None
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return True
        return valid_session(headers.get("cookie", ""), self.token)

    def _capped(self, receive: Receive) -> Receive:
        """``receive`` that raises a 413 :class:`ApiError` once the body passes the cap."""
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_upload:
                raise too_large(self.max_upload)
            return message

        return capped


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, error: ApiError, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(error.body()).encode()
    await _send(send, error.status, body, [(b"content-type", b"application/json"), *headers])


def parse_size(text: str, *, option: str = "--max-upload") -> int:
    """A size in bytes from ``1048576``, ``512K`` or ``1M`` (powers of 1024)."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (cleaned[:-1], units[cleaned[-1]]) if cleaned[-1:] in units else (cleaned, 1)
    try:
        size = int(float(number) * unit)
    except ValueError:
        size = -1
    if size <= 0:
        raise KaspixError(f"cannot read the size {text!r}", where=option, hint="write bytes, or a number with K or M: 1048576, 512K, 1M")
    return size


def check_exposure(host: str, *, token: str | None, insecure: bool) -> None:
    """Refuse to serve an address beyond this machine without a token, unless ``insecure``.

    Raises:
        KaspixError: saying why, and how to set a token.
    """
    if token or insecure or _is_loopback(host):
        return
    raise KaspixError(
        f"refusing to listen on {host} without a token: anyone who can reach that address could start pipelines "
        "(which run the installed plugins' code), read every run's files and delete jobs",
        where="--host",
        hint="set a token: export KASPIX_SERVE_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))'); "
        "or add --insecure when a reverse proxy in front checks every request itself",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
