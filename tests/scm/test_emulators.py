"""The GitHub and GitLab emulators on their own, over raw HTTP: authentication answers in the
real APIs' shapes, duplicate-create errors, pagination headers, faults, App JWT checks and a
request log that never holds a token."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devcluster.scm import github_emulator, gitlab_emulator

TOKEN = "emulator-secret-token-1234"
T0 = 1_800_000_000


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def call(
    session: aiohttp.ClientSession, method: str, url: str, *, headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, Any, Mapping[str, str]]:  # fmt: skip
    async with session.request(method, url, headers=headers or {}, json=body) as response:
        return response.status, await response.json(), dict(response.headers)


GH = {"Authorization": f"Bearer {TOKEN}"}
GL = {"PRIVATE-TOKEN": TOKEN}


async def test_both_emulators_listen_on_loopback_only() -> None:
    async with github_emulator(token=TOKEN) as gh, gitlab_emulator(token=TOKEN) as gl:
        assert gh.url.host == gl.url.host == "127.0.0.1"
        assert gh.url.port != gl.url.port
        assert gl.url.path == "/api/v4"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "Requires authentication", id="missing"),
        pytest.param({"Authorization": "Bearer nope"}, "Bad credentials", id="wrong"),
    ],
)
async def test_github_refuses_missing_and_wrong_tokens_like_github(
    session: aiohttp.ClientSession, headers: dict[str, str], message: str
) -> None:
    async with github_emulator(token=TOKEN) as gh:
        status, body, _ = await call(session, "GET", f"{gh.url}/repos/o/r/pulls", headers=headers)
    assert status == 401
    assert body["message"] == message and body["status"] == "401"


async def test_github_accepts_the_token_scheme_too(session: aiohttp.ClientSession) -> None:
    async with github_emulator(token=TOKEN) as gh:
        headers = {"Authorization": f"token {TOKEN}"}
        status, body, _ = await call(session, "GET", f"{gh.url}/repos/o/r/pulls", headers=headers)
    assert (status, body) == (200, [])


async def test_github_answers_422_for_a_duplicate_pull_request(
    session: aiohttp.ClientSession,
) -> None:
    async with github_emulator(token=TOKEN) as gh:
        url = f"{gh.url}/repos/o/r/pulls"
        pr = {"title": "t", "head": "feature", "base": "main"}
        assert (await call(session, "POST", url, headers=GH, body=pr))[0] == 201
        status, body, _ = await call(session, "POST", url, headers=GH, body=pr)
    assert status == 422 and body["message"] == "Validation Failed"
    assert body["errors"][0]["message"] == "A pull request already exists for o:feature."


async def test_github_pages_carry_a_next_link(session: aiohttp.ClientSession) -> None:
    async with github_emulator(token=TOKEN) as gh:
        for i in range(3):
            gh.add_pull("o/r", head=f"b{i}", base="main")
        url = f"{gh.url}/repos/o/r/pulls?per_page=2"
        _, first, headers = await call(session, "GET", url, headers=GH)
        assert [p["head"]["ref"] for p in first] == ["b2", "b1"]  # newest first
        link = headers["Link"]
        assert 'rel="next"' in link and "page=2" in link
        _, second, headers = await call(session, "GET", link[1 : link.index(">")], headers=GH)
        assert [p["head"]["ref"] for p in second] == ["b0"] and "Link" not in headers


async def test_gitlab_refuses_a_wrong_token_and_409s_a_duplicate(
    session: aiohttp.ClientSession,
) -> None:
    async with gitlab_emulator(token=TOKEN) as gl:
        url = f"{gl.url}/projects/g%2Fp/merge_requests"
        status, body, _ = await call(session, "GET", url, headers={"PRIVATE-TOKEN": "x"})
        assert (status, body) == (401, {"message": "401 Unauthorized"})
        mr = {"source_branch": "f", "target_branch": "main", "title": "t", "labels": "a,b"}
        status, created, _ = await call(session, "POST", url, headers=GL, body=mr)
        assert status == 201 and created["labels"] == ["a", "b"] and created["iid"] == 1
        status, body, _ = await call(session, "POST", url, headers=GL, body=mr)
    assert status == 409
    assert body["message"] == [
        "Another open merge request already exists for this source branch: !1"
    ]


async def test_gitlab_projects_resolve_by_numeric_id_too(session: aiohttp.ClientSession) -> None:
    async with gitlab_emulator(token=TOKEN) as gl:
        gl.add_pull("g/s/p", head="f", base="main")
        pid = gl.project_id("g/s/p")
        status, items, headers = await call(
            session, "GET", f"{gl.url}/projects/{pid}/merge_requests", headers=GL
        )
    assert status == 200 and [m["source_branch"] for m in items] == ["f"]
    assert headers["x-next-page"] == "" and headers["x-total"] == "1"


async def test_faults_answer_the_next_n_matching_requests_then_stop(
    session: aiohttp.ClientSession,
) -> None:
    async with github_emulator(token=TOKEN) as gh:
        gh.fail_next(2, 503, method="GET")
        url = f"{gh.url}/repos/o/r/pulls"
        statuses = [(await call(session, "GET", url, headers=GH))[0] for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [r.status for r in gh.requests] == [503, 503, 200]


async def test_the_request_log_holds_bodies_and_queries_but_never_the_token(
    session: aiohttp.ClientSession,
) -> None:
    async with gitlab_emulator(token=TOKEN) as gl:
        url = f"{gl.url}/projects/g%2Fp/merge_requests"
        body = {"source_branch": "f", "target_branch": "main", "title": "t"}
        await call(session, "POST", url, headers=GL, body=body)
        await call(session, "GET", f"{url}?state=opened", headers=GL)
    assert gl.requests[0].body == body
    assert gl.requests[1].query == {"state": "opened"}
    assert TOKEN not in repr(gl.requests)


# ---- GitHub App JWTs ----


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(key: rsa.RSAPrivateKey, claims: dict[str, Any], alg: str = "RS256") -> str:
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("claims", "alg", "status"),
    [
        pytest.param({"iat": T0 - 60, "exp": T0 + 540, "iss": "7"}, "RS256", 201, id="valid"),
        pytest.param({"iat": T0 - 700, "exp": T0 - 100, "iss": "7"}, "RS256", 401, id="expired"),
        pytest.param({"iat": T0, "exp": T0 + 900, "iss": "7"}, "RS256", 401, id="too-long"),
        pytest.param({"iat": T0 + 300, "exp": T0 + 600, "iss": "7"}, "RS256", 401,
                     id="issued-in-the-future"),
        pytest.param({"iat": T0 - 60, "exp": T0 + 540, "iss": "8"}, "RS256", 401,
                     id="unknown-app"),
        pytest.param({"iat": T0 - 60, "exp": T0 + 540, "iss": "7"}, "HS256", 401, id="not-rs256"),
    ],
)  # fmt: skip
async def test_the_app_token_endpoint_checks_the_jwt(
    session: aiohttp.ClientSession,
    key: rsa.RSAPrivateKey,
    claims: dict[str, Any],
    alg: str,
    status: int,
) -> None:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    async with github_emulator(token=TOKEN, clock=lambda: float(T0)) as gh:
        gh.register_app("7", public, installations={"1"})
        headers = {"Authorization": f"Bearer {_jwt(key, claims, alg)}"}
        url = f"{gh.url}/app/installations/1/access_tokens"
        answer, body, _ = await call(session, "POST", url, headers=headers)
        assert answer == status
        if status == 201:
            assert body["token"] == gh.minted[0] and body["expires_at"].endswith("Z")
            minted = {"Authorization": f"Bearer {body['token']}"}
            pulls = f"{gh.url}/repos/o/r/pulls"
            assert (await call(session, "GET", pulls, headers=minted))[0] == 200
        else:
            assert gh.minted == []


async def test_a_tampered_jwt_signature_is_refused(
    session: aiohttp.ClientSession, key: rsa.RSAPrivateKey
) -> None:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    async with github_emulator(token=TOKEN, clock=lambda: float(T0)) as gh:
        gh.register_app("7", public, installations={"1"})
        jwt = _jwt(key, {"iat": T0 - 60, "exp": T0 + 540, "iss": "7"})
        head, _, signature = jwt.split(".")
        forged = _b64(json.dumps({"iat": T0 - 60, "exp": T0 + 540, "iss": "7", "x": 1}).encode())
        headers = {"Authorization": f"Bearer {head}.{forged}.{signature}"}
        status, body, _ = await call(
            session, "POST", f"{gh.url}/app/installations/1/access_tokens", headers=headers
        )
    assert status == 401 and "could not be decoded" in body["message"]
