"""The fault-injecting registry: real-registry shapes, and each fault observed over plain HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import pytest

from devcluster.faultregistry import FaultRegistry, Kind
from devcluster.seeder import ACCEPT_ALL

CREATED = dt.datetime(2024, 6, 1, 10, 0, 0, tzinfo=dt.UTC)


async def get(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


def next_link(headers: dict[str, str]) -> str | None:
    link = headers.get("Link")
    return None if link is None else link[link.index("<") + 1 : link.index(">")]


# -- content -----------------------------------------------------------------------------------


async def test_manifests_and_config_blobs_have_the_real_registrys_shapes(
    fault_registry: FaultRegistry,
) -> None:
    digest = fault_registry.add_image("team/app", "1.0", created=CREATED, labels={"a": "b"})
    base = f"{fault_registry.url}/v2/team/app"

    status, headers, body = await get(f"{base}/manifests/1.0", {"Accept": ACCEPT_ALL})
    head_status, head_headers, _ = await get(
        f"{base}/manifests/1.0", {"Accept": ACCEPT_ALL}, "HEAD"
    )
    manifest = json.loads(body)
    _, blob_headers, blob = await get(f"{base}/blobs/{manifest['config']['digest']}")

    assert (status, head_status) == (200, 200)
    assert headers["Docker-Content-Digest"] == head_headers["Docker-Content-Digest"] == digest
    assert headers["Content-Type"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert blob_headers["Content-Type"] == "application/octet-stream"
    config = json.loads(blob)
    assert (config["created"], config["config"]["Labels"]) == ("2024-06-01T10:00:00Z", {"a": "b"})


async def test_an_index_is_served_by_tag_and_its_children_by_digest(
    fault_registry: FaultRegistry,
) -> None:
    digest = fault_registry.add_image(
        "team/app", "2.0", platforms=("linux/amd64", "linux/arm64/v8"), media="oci"
    )
    base = f"{fault_registry.url}/v2/team/app/manifests"

    _, headers, body = await get(f"{base}/2.0", {"Accept": ACCEPT_ALL})
    children = [m["digest"] for m in json.loads(body)["manifests"]]
    statuses = [(await get(f"{base}/{child}", {"Accept": ACCEPT_ALL}))[0] for child in children]

    assert headers["Docker-Content-Digest"] == digest
    assert statuses == [200, 200]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/v2/nobody/tags/list", "NAME_UNKNOWN", id="unknown-repository"),
        pytest.param("/v2/team/app/manifests/9.9.9", "MANIFEST_UNKNOWN", id="unknown-tag"),
        pytest.param("/v2/team/app/blobs/sha256:00", "BLOB_UNKNOWN", id="unknown-blob"),
    ],
)
async def test_unknown_things_are_404_with_the_distribution_error_code(
    fault_registry: FaultRegistry, path: str, code: str
) -> None:
    fault_registry.add_image("team/app", "1.0")

    status, _, body = await get(fault_registry.url + path, {"Accept": ACCEPT_ALL})

    assert status == 404
    assert json.loads(body)["errors"][0]["code"] == code


async def test_an_oci_manifest_is_hidden_from_a_docker_only_accept(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_image("team/app", "oci", media="oci")
    url = f"{fault_registry.url}/v2/team/app/manifests/oci"

    narrow, _, _ = await get(
        url, {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    )
    wide, _, _ = await get(url, {"Accept": ACCEPT_ALL})

    assert (narrow, wide) == (404, 200)


# -- pagination --------------------------------------------------------------------------------


async def test_following_link_headers_walks_every_tag_once_in_order(
    fault_registry: FaultRegistry,
) -> None:
    tags = [f"1.{i:02d}" for i in range(10)]
    fault_registry.add_tags("team/app", tags)
    fault_registry.paginate(4)
    url: str | None = f"{fault_registry.url}/v2/team/app/tags/list"
    pages: list[list[str]] = []

    while url is not None and len(pages) < 10:
        _, headers, body = await get(url)
        pages.append(json.loads(body)["tags"])
        link = next_link(headers)
        url = None if link is None else fault_registry.url + link

    assert [len(p) for p in pages] == [4, 4, 2]
    assert [tag for page in pages for tag in page] == tags


@pytest.mark.parametrize(
    ("page_size", "query", "expected"),
    [
        pytest.param(None, "", 6, id="no-pagination-returns-everything"),
        pytest.param(None, "?n=2", 2, id="n-is-honoured"),
        pytest.param(3, "?n=5", 3, id="page-size-caps-n"),
        pytest.param(3, "?n=1", 1, id="smaller-n-wins"),
        pytest.param(None, "?n=3&last=t2", 3, id="last-skips-earlier-tags"),
    ],
)
async def test_tag_pages_honour_n_last_and_the_page_size(
    fault_registry: FaultRegistry, page_size: int | None, query: str, expected: int
) -> None:
    fault_registry.add_tags("team/app", [f"t{i}" for i in range(6)])
    if page_size is not None:
        fault_registry.paginate(page_size, repository="team/app")

    _, _, body = await get(f"{fault_registry.url}/v2/team/app/tags/list{query}")

    tags = json.loads(body)["tags"]
    assert len(tags) == expected
    assert "last=t2" not in query or tags[0] == "t3"


async def test_a_non_numeric_page_size_is_a_400(fault_registry: FaultRegistry) -> None:
    fault_registry.add_image("team/app", "1")

    status, _, body = await get(f"{fault_registry.url}/v2/team/app/tags/list?n=ten")

    assert status == 400
    assert json.loads(body)["errors"][0]["code"] == "PAGINATION_NUMBER_INVALID"


async def test_endless_pagination_always_links_to_a_new_page(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.endless_pagination(repository="loop/app")
    url = f"{fault_registry.url}/v2/loop/app/tags/list?n=5"
    seen: list[str] = []

    for _ in range(4):
        _, headers, body = await get(url)
        seen += json.loads(body)["tags"]
        link = next_link(headers)
        assert link is not None
        url = fault_registry.url + link

    assert len(seen) == len(set(seen)) == 20


# -- faults ------------------------------------------------------------------------------------


async def test_rate_limiting_answers_429_with_retry_after_for_the_next_k_requests(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.rate_limit(2, retry_after=7)

    answers = [await get(f"{fault_registry.url}/v2/") for _ in range(3)]

    assert [a[0] for a in answers] == [429, 429, 200]
    assert answers[0][1]["Retry-After"] == "7"
    assert json.loads(answers[0][2])["errors"][0]["code"] == "TOOMANYREQUESTS"


async def test_server_errors_hit_only_the_chosen_repository(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_image("sick/app", "1")
    fault_registry.add_image("well/app", "1")
    fault_registry.fail(2, status=502, repository="sick/app")

    sick = [(await get(f"{fault_registry.url}/v2/sick/app/tags/list"))[0] for _ in range(3)]
    well = (await get(f"{fault_registry.url}/v2/well/app/tags/list"))[0]

    assert sick == [502, 502, 200]
    assert well == 200


async def test_faults_can_target_request_kinds(fault_registry: FaultRegistry) -> None:
    fault_registry.add_image("team/app", "1")
    fault_registry.fail(5, kinds=[Kind.MANIFEST_HEAD])
    base = f"{fault_registry.url}/v2/team/app"

    tags = (await get(f"{base}/tags/list"))[0]
    got = (await get(f"{base}/manifests/1", {"Accept": ACCEPT_ALL}))[0]
    head = (await get(f"{base}/manifests/1", {"Accept": ACCEPT_ALL}, "HEAD"))[0]

    assert (tags, got, head) == (200, 200, 503)


async def test_a_slow_answer_withholds_its_headers_for_the_delay(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.slow(0.3, times=1)

    started = time.monotonic()
    status, _, _ = await get(f"{fault_registry.url}/v2/")
    slow_took = time.monotonic() - started
    started = time.monotonic()
    await get(f"{fault_registry.url}/v2/")
    fast_took = time.monotonic() - started

    assert status == 200
    assert slow_took >= 0.3 > fast_took


async def test_a_client_timeout_fires_on_a_slow_answer(fault_registry: FaultRegistry) -> None:
    fault_registry.slow(2.0, times=1)
    timeout = aiohttp.ClientTimeout(total=0.2)

    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.get(f"{fault_registry.url}/v2/")


async def test_a_dripping_body_arrives_in_small_pieces_over_time(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("team/app", ["1.0", "1.1"])
    fault_registry.drip(0.02, chunk_size=8)
    pieces: list[bytes] = []

    started = time.monotonic()
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{fault_registry.url}/v2/team/app/tags/list") as resp,
    ):
        async for piece in resp.content.iter_any():
            pieces.append(piece)
    took = time.monotonic() - started

    body = b"".join(pieces)
    assert json.loads(body)["tags"] == ["1.0", "1.1"]
    assert len(pieces) > 3
    assert took >= 0.02 * (len(body) // 8 - 1)


async def test_malformed_answers_are_truncated_json(fault_registry: FaultRegistry) -> None:
    fault_registry.add_image("team/app", "1")
    fault_registry.malformed(times=1, kinds=[Kind.TAGS])

    status, headers, body = await get(f"{fault_registry.url}/v2/team/app/tags/list")

    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


async def test_a_huge_body_streams_past_any_sane_limit_without_a_length(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_image("team/app", "1")
    fault_registry.huge()
    limit = 4 * 1024 * 1024
    received = 0

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{fault_registry.url}/v2/team/app/tags/list") as resp,
    ):
        length = resp.headers.get("Content-Length")
        async for piece in resp.content.iter_chunked(256 * 1024):
            received += len(piece)
            if received > limit:
                break

    assert length is None
    assert received > limit


async def test_a_huge_body_can_declare_its_length_up_front(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.huge(3_000_000, declare_length=True)

    _, headers, body = await get(f"{fault_registry.url}/v2/")

    assert headers["Content-Length"] == "3000000"
    assert len(body) == 3_000_000


async def test_a_wrong_content_type_replaces_the_real_one(fault_registry: FaultRegistry) -> None:
    fault_registry.add_image("team/app", "1")
    fault_registry.wrong_content_type("text/html", repository="team/app")

    _, headers, body = await get(f"{fault_registry.url}/v2/team/app/tags/list")

    assert headers["Content-Type"] == "text/html"
    assert json.loads(body)["tags"] == ["1"]


async def test_clear_switches_every_fault_off(fault_registry: FaultRegistry) -> None:
    fault_registry.fail(100)
    fault_registry.clear()

    status, _, _ = await get(f"{fault_registry.url}/v2/")

    assert status == 200


# -- request log and auth ----------------------------------------------------------------------


async def test_the_request_log_counts_requests_by_kind(fault_registry: FaultRegistry) -> None:
    fault_registry.add_image("team/app", "1")
    base = f"{fault_registry.url}/v2/team/app"

    await get(f"{fault_registry.url}/v2/")
    await get(f"{base}/tags/list")
    await get(f"{base}/tags/list")
    await get(f"{base}/manifests/1", {"Accept": ACCEPT_ALL}, "HEAD")

    assert fault_registry.counts() == {Kind.PING: 1, Kind.TAGS: 2, Kind.MANIFEST_HEAD: 1}
    assert fault_registry.count(Kind.TAGS, repository="team/app") == 2
    assert fault_registry.log[-1].status == 200


async def test_token_mode_challenges_issues_tokens_and_accepts_them() -> None:
    fault = FaultRegistry(auth="token", users={"u": "p"})
    fault.add_image("team/app", "1")
    await fault.serve()
    try:
        url = f"{fault.url}/v2/team/app/tags/list"
        status, headers, _ = await get(url)
        realm = headers["WWW-Authenticate"].split('realm="')[1].split('"')[0]
        bad, _, _ = await get(realm, {"Authorization": aiohttp.encode_basic_auth("u", "x")})
        _, _, body = await get(realm, {"Authorization": aiohttp.encode_basic_auth("u", "p")})
        token = json.loads(body)["token"]
        authorized, _, _ = await get(url, {"Authorization": f"Bearer {token}"})
    finally:
        await fault.close()

    assert (status, bad, authorized) == (401, 401, 200)
    assert realm == f"{fault.url}/token"
    assert fault.count(Kind.TOKEN) == 2
    assert fault.log[-1].authorized


async def test_basic_mode_checks_the_user_table() -> None:
    fault = FaultRegistry(auth="basic", users={"u": "p"})
    await fault.serve()
    try:
        anonymous, headers, _ = await get(f"{fault.url}/v2/")
        wrong, _, _ = await get(
            f"{fault.url}/v2/", {"Authorization": aiohttp.encode_basic_auth("u", "x")}
        )
        right, _, _ = await get(
            f"{fault.url}/v2/", {"Authorization": aiohttp.encode_basic_auth("u", "p")}
        )
    finally:
        await fault.close()

    assert (anonymous, wrong, right) == (401, 401, 200)
    assert headers["WWW-Authenticate"].startswith("Basic ")


# -- ways to run it ----------------------------------------------------------------------------


AiohttpServer = Callable[..., Coroutine[Any, Any, Any]]


async def test_it_runs_under_pytest_aiohttps_server_fixture(
    aiohttp_server: AiohttpServer,
) -> None:
    fault = FaultRegistry(page_size=1)
    fault.add_tags("team/app", ["a", "b"])
    server = await aiohttp_server(fault.make_app())

    _, headers, body = await get(str(server.make_url("/v2/team/app/tags/list")))

    assert json.loads(body)["tags"] == ["a"]
    assert next_link(headers) == "/v2/team/app/tags/list?last=a&n=1"


def test_it_runs_standalone_in_a_background_thread() -> None:
    fault = FaultRegistry()
    fault.add_image("team/app", "1")
    url = fault.start()
    try:
        with urllib.request.urlopen(f"{url}/v2/team/app/tags/list", timeout=5) as resp:  # noqa: S310
            tags = json.loads(resp.read())["tags"]
        fault.fail(1)
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{url}/v2/", timeout=5)  # noqa: S310
        failed.value.close()
    finally:
        fault.stop()

    assert url.startswith("http://127.0.0.1:")
    assert tags == ["1"]
    assert failed.value.code == 503


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda f: f.fail(1, status=404), "expected a 5xx", id="non-5xx-failure"),
        pytest.param(lambda f: f.paginate(0), "expected 1 or more", id="zero-page-size"),
        pytest.param(lambda f: f.slow(1.0, times=0), "expected 1 or more", id="zero-times"),
    ],
)
def test_nonsense_fault_settings_are_errors(
    call: Callable[[FaultRegistry], None], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call(FaultRegistry())
