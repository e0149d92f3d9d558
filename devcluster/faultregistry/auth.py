"""The fault registry's optional authentication: Basic against a user table, or opaque
Bearer tokens from its own ``/token`` (anonymous callers get one too, as on Docker Hub).
"""

from __future__ import annotations

__all__ = ["AuthMode", "FaultAuth"]

import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Literal

from aiohttp import web

from devcluster.faultregistry.wire import Reply, error_reply
from devcluster.tokenserver import decode_basic

AuthMode = Literal["none", "basic", "token"]


class FaultAuth:
    """Checks requests and issues tokens; thread-safe."""

    def __init__(self, mode: AuthMode, users: Mapping[str, str], token_ttl: int) -> None:
        if mode not in ("none", "basic", "token"):
            raise ValueError(f"auth={mode!r} is not valid; expected 'none', 'basic' or 'token'")
        self.mode = mode
        self._users = dict(users)
        self._ttl = token_ttl
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # token -> expiry (monotonic)

    def __repr__(self) -> str:
        return f"FaultAuth(mode={self.mode!r}, users={sorted(self._users)!r})"

    def _valid_user(self, header: str) -> bool:
        creds = decode_basic(header)
        return creds is not None and self._users.get(creds[0]) == creds[1]

    def check(self, request: web.Request, repository: str | None) -> Reply | None:
        """None when the request may proceed, else the 401 challenge to send."""
        if self.mode == "none":
            return None
        header = request.headers.get("Authorization", "")
        if self.mode == "basic":
            if self._valid_user(header):
                return None
            challenge = 'Basic realm="fault-registry"'
        else:
            scheme, _, token = header.partition(" ")
            with self._lock:
                expiry = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if expiry is not None and expiry > time.monotonic():
                return None
            scope = f',scope="repository:{repository}:pull"' if repository else ""
            # Built from the request, so the app works wherever it is served (aiohttp_server too).
            realm = f"{request.scheme}://{request.host}/token"
            challenge = f'Bearer realm="{realm}",service="fault-registry"{scope}'
        www = {"WWW-Authenticate": challenge}
        return error_reply(401, "UNAUTHORIZED", "authentication required", **www)

    def issue(self, request: web.Request) -> Reply:
        """Answer ``/token``: 401 for bad credentials, otherwise a fresh opaque token."""
        header = request.headers.get("Authorization")
        if header is not None and not self._valid_user(header):
            return error_reply(401, "UNAUTHORIZED", "invalid username or password")
        token = uuid.uuid4().hex
        with self._lock:
            self._tokens[token] = time.monotonic() + self._ttl
        body = {"token": token, "access_token": token, "expires_in": self._ttl}
        return Reply(200, json.dumps(body).encode())
