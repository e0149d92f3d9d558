"""The GitHub pull-request client against the GitHub emulator: find, create (and reuse on
"already exists"), labels (failure only a warning), update, list with pagination, close with
a comment, Enterprise base URLs, errors and the token's secrecy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devcluster.scm import GitHubEmulator, github_emulator
from imageupdater.errors import SCMError
from imageupdater.scm import (
    MAX_BODY_CHARS,
    MAX_TITLE_CHARS,
    PullRequest,
    PullRequests,
    pull_requests,
)

TOKEN = "ghp_secretToken0123456789abcdef"
REPO = "https://github.com/owner/repo.git"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def gh() -> AsyncIterator[GitHubEmulator]:
    async with github_emulator(token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
def client(gh: GitHubEmulator, session: aiohttp.ClientSession) -> PullRequests:
    return pull_requests("github", repo_url=REPO, token=TOKEN, session=session, api_url=str(gh.url))


async def make(client: PullRequests, head: str = "image-updater-a-1", **kw: str) -> PullRequest:
    return await client.create(
        head=head, base=kw.get("base", "main"), title=kw.get("title", "chore: update"),
        body=kw.get("body", "body"), labels=[],
    )  # fmt: skip


# ---- find and create ----


async def test_no_open_pull_request_is_found_in_an_empty_repository(client: PullRequests) -> None:
    assert await client.find_open(head="image-updater-a-1", base="main") is None


async def test_a_created_pull_request_is_then_found_by_head_and_base(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    created = await client.create(
        head="image-updater-a-1", base="main", title="chore: update", body="details", labels=[]
    )
    assert created.number == 1
    assert created.head == "image-updater-a-1" and created.base == "main"
    assert created.title == "chore: update"
    assert created.url.endswith("/owner/repo/pull/1")
    assert await client.find_open(head="image-updater-a-1", base="main") == created
    listing = gh.requests_to("GET", "/pulls")[-1]
    assert listing.query["head"] == "owner:image-updater-a-1"
    assert listing.query["base"] == "main" and listing.query["state"] == "open"
    assert gh.pull("owner/repo", 1).body == "details"


async def test_a_pull_request_into_another_base_or_closed_is_not_found(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    gh.add_pull("owner/repo", head="feature", base="release")
    gh.add_pull("owner/repo", head="feature", base="main", state="closed")
    assert await client.find_open(head="feature", base="main") is None


async def test_creating_a_pull_request_that_already_exists_returns_the_existing_one(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    first = await make(client)
    again = await make(client, title="another title")
    assert again == first
    assert [r.status for r in gh.requests_to("POST", "/pulls")] == [201, 422]
    assert len(gh.pulls) == 1


async def test_another_validation_failure_on_create_is_a_permanent_error(
    client: PullRequests,
) -> None:
    with pytest.raises(SCMError) as caught:
        await make(client, head="main", base="main")
    assert caught.value.status == 422 and not caught.value.transient
    assert "No commits between main and main" in str(caught.value)


async def test_title_and_body_are_truncated_to_upstreams_limits(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    await make(client, title="t" * 300, body="b" * 70_000)
    pr = gh.pull("owner/repo", 1)
    assert len(pr.title) == MAX_TITLE_CHARS == 255
    assert len(pr.body) == MAX_BODY_CHARS == 65_536


# ---- labels ----


async def test_labels_are_added_by_a_follow_up_call(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    pr = await client.create(
        head="image-updater-a-1", base="main", title="t", body="", labels=["deps", "auto"]
    )
    assert gh.pull("owner/repo", pr.number).labels == ["deps", "auto"]
    [call] = gh.requests_to("POST", "/issues/1/labels")
    assert call.body == {"labels": ["deps", "auto"]}


async def test_a_failure_to_label_is_only_a_warning(
    client: PullRequests, gh: GitHubEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    gh.fail_next(1, 403, path_contains="/labels")
    with caplog.at_level(logging.WARNING, logger="image_updater.scm"):
        pr = await client.create(
            head="image-updater-a-1", base="main", title="t", body="", labels=["deps"]
        )
    assert pr.number == 1
    assert gh.pull("owner/repo", 1).labels == []
    assert any("could not add labels" in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


async def test_no_label_call_is_made_without_labels(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    await make(client)
    assert gh.requests_to("POST", "/labels") == []


# ---- update, list, close ----


async def test_updating_changes_title_and_body(client: PullRequests, gh: GitHubEmulator) -> None:
    pr = await make(client)
    updated = await client.update(pr, title="new title", body="new body")
    assert updated.title == "new title" and updated.number == pr.number
    assert gh.pull("owner/repo", pr.number).body == "new body"


async def test_listing_follows_pagination_and_keeps_only_our_prefix_and_base(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    for i in range(5):
        gh.add_pull("owner/repo", head=f"image-updater-app-{i}", base="main")
    gh.add_pull("owner/repo", head="someone-else", base="main")
    gh.add_pull("owner/repo", head="image-updater-other", base="release")
    gh.add_pull("owner/repo", head="image-updater-closed", base="main", state="closed")
    gh.add_pull("owner/repo", head="image-updater-fork", base="main", head_repo="fork/repo")
    gh.page_size = 2
    found = await client.list_open(head_prefix="image-updater-", base="main")
    assert sorted(pr.head for pr in found) == [f"image-updater-app-{i}" for i in range(5)]
    assert len(gh.requests_to("GET", "/pulls")) == 4  # 7 open into main, 2 a page


async def test_listing_gives_up_after_a_bounded_number_of_pages(
    gh: GitHubEmulator, session: aiohttp.ClientSession
) -> None:
    from imageupdater.scm.github import GitHubPullRequests

    client = GitHubPullRequests(
        owner="owner", repo="repo", token=TOKEN, session=session, api_url=gh.url, max_pages=3
    )
    for i in range(10):
        gh.add_pull("owner/repo", head=f"image-updater-{i}", base="main")
    gh.page_size = 1
    with pytest.raises(SCMError, match="more than 3 pages"):
        await client.list_open(head_prefix="image-updater-", base="main")
    assert len(gh.requests_to("GET", "/pulls")) == 3


async def test_closing_comments_first_then_closes(client: PullRequests, gh: GitHubEmulator) -> None:
    pr = await make(client)
    await client.close(pr, comment="superseded by #2")
    emulated = gh.pull("owner/repo", pr.number)
    assert emulated.state == "closed" and emulated.comments == ["superseded by #2"]
    calls = [(r.method, r.path) for r in gh.requests[-2:]]
    assert calls == [
        ("POST", "/repos/owner/repo/issues/1/comments"),
        ("PATCH", "/repos/owner/repo/pulls/1"),
    ]
    assert await client.find_open(head=pr.head, base="main") is None


# ---- base URLs ----


async def test_an_enterprise_api_base_is_derived_from_the_repository_host(
    session: aiohttp.ClientSession,
) -> None:
    async with github_emulator(token=TOKEN, prefix="/api/v3") as ghe:
        repo_url = f"{ghe.root_url}/owner/repo.git"  # http://127.0.0.1:<port>/owner/repo.git
        client = pull_requests("github", repo_url=repo_url, token=TOKEN, session=session)
        pr = await make(client)
        assert await client.find_open(head=pr.head, base="main") == pr
        assert all(r.path.startswith("/api/v3/repos/owner/repo/") for r in ghe.requests)


async def test_an_explicit_api_url_with_a_path_is_used_as_given(
    session: aiohttp.ClientSession,
) -> None:
    async with github_emulator(token=TOKEN, prefix="/github/api/v3") as ghe:
        client = pull_requests(
            "github",
            repo_url="git@ghe.example:owner/repo.git",
            token=TOKEN,
            session=session,
            api_url=f"{ghe.url}/",
        )
        await make(client)
        assert ghe.requests[0].path == "/github/api/v3/repos/owner/repo/pulls"


# ---- errors and secrecy ----


async def test_a_wrong_token_is_a_permanent_error_without_the_token(
    gh: GitHubEmulator, session: aiohttp.ClientSession
) -> None:
    wrong = "ghp_wrongToken9876543210"
    client = pull_requests(
        "github", repo_url=REPO, token=wrong, session=session, api_url=str(gh.url)
    )
    with pytest.raises(SCMError) as caught:
        await client.find_open(head="x", base="main")
    assert caught.value.status == 401 and not caught.value.transient
    assert "Bad credentials" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        pytest.param(500, True, id="500-transient"),
        pytest.param(502, True, id="502-transient"),
        pytest.param(503, True, id="503-transient"),
        pytest.param(429, True, id="429-transient"),
        pytest.param(403, False, id="403-permanent"),
        pytest.param(404, False, id="404-permanent"),
    ],
)
async def test_error_statuses_map_to_scm_errors_with_the_right_transient_flag(
    client: PullRequests, gh: GitHubEmulator, status: int, transient: bool
) -> None:
    gh.fail_next(1, status)
    with pytest.raises(SCMError) as caught:
        await client.find_open(head="x", base="main")
    assert caught.value.status == status
    assert caught.value.transient is transient
    assert f"({status})" in str(caught.value)


async def test_an_answer_that_is_not_json_is_a_clear_error(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    gh.fail_next(1, 200, text="<html>proxy login</html>", content_type="text/html")
    with pytest.raises(SCMError, match="not JSON"):
        await client.find_open(head="x", base="main")


async def test_a_json_answer_of_the_wrong_shape_is_a_clear_error(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    gh.fail_next(1, 200, text='{"items": []}')
    with pytest.raises(SCMError, match="not a list of pull requests"):
        await client.find_open(head="x", base="main")
    gh.fail_next(1, 200, text='[{"number": 1}]')
    with pytest.raises(SCMError, match="lacks number, html_url"):
        await client.find_open(head="x", base="main")
    gh.fail_next(1, 201, text="[]", method="POST")
    with pytest.raises(SCMError, match="lacks number"):
        await make(client)


async def test_an_unreachable_server_is_a_transient_error(session: aiohttp.ClientSession) -> None:
    async with github_emulator(token=TOKEN) as gone:
        url = str(gone.url)
    client = pull_requests("github", repo_url=REPO, token=TOKEN, session=session, api_url=url)
    with pytest.raises(SCMError) as caught:
        await client.find_open(head="x", base="main")
    assert caught.value.status == 0 and caught.value.transient
    assert TOKEN not in str(caught.value)


async def test_the_token_is_sent_as_a_bearer_header_never_in_the_log_or_a_repr(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    pr = await client.create(
        head="image-updater-a-1", base="main", title="t", body="b", labels=["x"]
    )
    await client.update(pr, title="t2", body="b2")
    await client.list_open(head_prefix="image-updater-", base="main")
    await client.close(pr, comment="bye")
    assert TOKEN not in repr(gh.requests)
    assert TOKEN not in repr(client)
    assert all(r.status < 400 for r in gh.requests)


async def test_an_error_body_that_echoes_the_token_is_redacted(
    client: PullRequests, gh: GitHubEmulator
) -> None:
    gh.fail_next(1, 400, text=f'{{"message": "bad header Bearer {TOKEN}"}}')
    with pytest.raises(SCMError) as caught:
        await client.find_open(head="x", base="main")
    assert TOKEN not in str(caught.value)
    assert "<redacted>" in str(caught.value)


async def test_a_server_slower_than_the_timeout_is_a_transient_error(
    gh: GitHubEmulator, session: aiohttp.ClientSession
) -> None:
    client = pull_requests(
        "github", repo_url=REPO, token=TOKEN, session=session, api_url=str(gh.url), timeout=0.1
    )
    gh.fail_next(1, 200, text="[]", delay=0.5)
    with pytest.raises(SCMError, match=r"no answer within 0.1s") as caught:
        await client.find_open(head="x", base="main")
    assert caught.value.transient
