"""The token server on its own: embedded in a running loop, counting, and its grant rules."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import pytest

from devcluster.tokenserver import BackgroundServer, TokenServer

AiohttpServer = Callable[..., Coroutine[Any, Any, Any]]


def claims_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    parsed = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert isinstance(parsed, dict)
    return parsed


@pytest.fixture
async def token_url(aiohttp_server: AiohttpServer) -> tuple[TokenServer, str]:
    server = TokenServer(users={"alice": "secret"}, ttl=60)
    served = await aiohttp_server(server.make_app())
    return server, str(served.make_url("/token"))


async def test_tokens_are_counted_per_scope(token_url: tuple[TokenServer, str]) -> None:
    server, url = token_url
    async with aiohttp.ClientSession() as session:
        for scope in ("repository:a:pull", "repository:a:pull", "repository:b:pull"):
            async with session.get(url, params={"scope": scope}) as resp:
                assert resp.status == 200

    assert server.requests == 3
    assert server.requests_for("repository:a:pull") == 2
    assert server.requests_for("repository:b:pull") == 1
    server.reset_counts()
    assert server.requests == 0


async def test_the_password_grant_on_post_issues_a_token_for_the_user(
    token_url: tuple[TokenServer, str],
) -> None:
    _, url = token_url
    form = {
        "grant_type": "password",
        "username": "alice",
        "password": "secret",
        "service": "devcluster-registry",
        "scope": "repository:team/app:pull,push",
    }
    async with aiohttp.ClientSession() as session, session.post(url, data=form) as resp:
        body = json.loads(await resp.read())

    claims = claims_of(body["access_token"])
    assert body["expires_in"] == 60
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["access"][0]["actions"] == ["pull", "push"]


async def test_a_malformed_scope_is_a_400_naming_it(token_url: tuple[TokenServer, str]) -> None:
    _, url = token_url
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params={"scope": "repository"}) as resp,
    ):
        body = json.loads(await resp.read())

    assert resp.status == 400
    assert "'repository'" in body["errors"][0]["message"]


def test_the_token_server_runs_in_a_background_thread_and_stops() -> None:
    server = TokenServer()
    realm = server.start()
    try:
        with urllib.request.urlopen(f"{realm}?scope=repository:x:pull", timeout=5) as resp:  # noqa: S310
            token = json.loads(resp.read())["token"]
    finally:
        server.stop()

    assert realm.startswith("http://127.0.0.1:")
    assert claims_of(token)["access"] == [{"type": "repository", "name": "x", "actions": ["pull"]}]
    with pytest.raises(OSError):
        urllib.request.urlopen(realm, timeout=2)  # noqa: S310


def test_a_background_server_reports_a_failing_app_factory() -> None:
    def broken() -> Any:
        raise RuntimeError("no app today")

    with pytest.raises(RuntimeError, match="no app today"):
        BackgroundServer(broken).start()


def test_reprs_never_show_passwords() -> None:
    assert "secret" not in repr(TokenServer(users={"alice": "secret"}))
