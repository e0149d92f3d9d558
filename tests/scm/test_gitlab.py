"""The GitLab merge-request client against the GitLab emulator: find, create (labels at
creation, reuse on 409), update, list with x-next-page pagination, close with a note,
nested groups, self-managed base URLs, errors and the token's secrecy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from devcluster.scm import GitLabEmulator, gitlab_emulator
from imageupdater.errors import SCMError
from imageupdater.scm import PullRequests, pull_requests

TOKEN = "glpat-secretToken0123456789"
PROJECT = "group/sub/project"
REPO = f"https://gitlab.example/{PROJECT}.git"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def gl() -> AsyncIterator[GitLabEmulator]:
    async with gitlab_emulator(token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
def client(gl: GitLabEmulator, session: aiohttp.ClientSession) -> PullRequests:
    return pull_requests("gitlab", repo_url=REPO, token=TOKEN, session=session, api_url=str(gl.url))


# ---- find and create ----


async def test_a_created_merge_request_is_found_by_source_and_target_branch(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    assert await client.find_open(head="image-updater-a-1", base="main") is None
    created = await client.create(
        head="image-updater-a-1", base="main", title="chore: update", body="details", labels=[]
    )
    assert created.number == 1 and created.title == "chore: update"
    assert created.url.endswith(f"/{PROJECT}/-/merge_requests/1")
    assert await client.find_open(head="image-updater-a-1", base="main") == created
    listing = gl.requests_to("GET", "/merge_requests")[-1]
    assert listing.query["state"] == "opened"
    assert listing.query["source_branch"] == "image-updater-a-1"
    assert listing.query["target_branch"] == "main"
    assert gl.pull(PROJECT, 1).body == "details"


async def test_the_nested_group_path_is_one_url_encoded_segment(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    await client.find_open(head="x", base="main")
    # aiohttp's request.path is decoded; the emulator splits the raw path, so the call only
    # routes when the project path is encoded as one segment.
    assert gl.requests[0].status == 200
    assert gl.requests[0].path == f"/api/v4/projects/{PROJECT}/merge_requests"


async def test_labels_are_sent_comma_separated_at_creation(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    await client.create(head="h", base="main", title="t", body="", labels=["deps", "auto"])
    [call] = gl.requests_to("POST", "/merge_requests")
    assert call.body["labels"] == "deps,auto"
    assert gl.pull(PROJECT, 1).labels == ["deps", "auto"]
    assert len(gl.requests) == 1  # no follow-up call


async def test_creating_a_merge_request_that_already_exists_returns_the_existing_one(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    first = await client.create(head="h", base="main", title="t", body="", labels=[])
    again = await client.create(head="h", base="main", title="t2", body="", labels=[])
    assert again == first
    assert [r.status for r in gl.requests_to("POST", "/merge_requests")] == [201, 409]


async def test_title_and_description_are_truncated(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    await client.create(head="h", base="main", title="é" * 300, body="b" * 70_000, labels=[])
    mr = gl.pull(PROJECT, 1)
    assert len(mr.title) == 255 and len(mr.body) == 65_536


# ---- update, list, close ----


async def test_updating_changes_title_and_description(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    mr = await client.create(head="h", base="main", title="t", body="", labels=[])
    updated = await client.update(mr, title="new", body="new body")
    assert updated.title == "new"
    assert gl.pull(PROJECT, 1).body == "new body"
    assert gl.requests[-1].method == "PUT"


async def test_listing_follows_x_next_page_and_keeps_only_our_prefix(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    for i in range(5):
        gl.add_pull(PROJECT, head=f"image-updater-{i}", base="main")
    gl.add_pull(PROJECT, head="feature", base="main")
    gl.add_pull(PROJECT, head="image-updater-x", base="release")
    gl.add_pull(PROJECT, head="image-updater-closed", base="main", state="closed")
    gl.add_pull(PROJECT, head="image-updater-fork", base="main", head_repo="fork/project")
    gl.page_size = 2
    found = await client.list_open(head_prefix="image-updater-", base="main")
    assert sorted(mr.head for mr in found) == [f"image-updater-{i}" for i in range(5)]
    pages = [r.query["page"] for r in gl.requests_to("GET", "/merge_requests")]
    assert pages == ["1", "2", "3", "4"]  # 7 opened into main, 2 a page


async def test_a_next_page_that_does_not_move_forward_is_an_error(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    gl.fail_next(1, 200, text="[]", headers={"x-next-page": "1"})
    with pytest.raises(SCMError, match="does not move forward"):
        await client.list_open(head_prefix="x", base="main")
    assert len(gl.requests) == 1
    gl.fail_next(1, 200, text="[]")  # no x-next-page: the last page
    assert await client.list_open(head_prefix="x", base="main") == []


async def test_closing_adds_a_note_then_closes(client: PullRequests, gl: GitLabEmulator) -> None:
    mr = await client.create(head="h", base="main", title="t", body="", labels=[])
    await client.close(mr, comment="superseded")
    emulated = gl.pull(PROJECT, 1)
    assert emulated.state == "closed" and emulated.comments == ["superseded"]
    assert [r.method for r in gl.requests[-2:]] == ["POST", "PUT"]
    assert gl.requests[-1].body == {"state_event": "close"}
    assert await client.find_open(head="h", base="main") is None


# ---- base URLs ----


async def test_a_self_managed_api_base_is_derived_from_the_repository_url(
    gl: GitLabEmulator, session: aiohttp.ClientSession
) -> None:
    repo_url = f"{gl.root_url}/{PROJECT}.git"  # http://127.0.0.1:<port>/group/sub/project.git
    client = pull_requests("gitlab", repo_url=repo_url, token=TOKEN, session=session)
    mr = await client.create(head="h", base="main", title="t", body="", labels=[])
    assert await client.find_open(head="h", base="main") == mr
    assert all(r.path.startswith("/api/v4/projects/") for r in gl.requests)


# ---- errors and secrecy ----


async def test_a_wrong_token_is_a_permanent_error_without_the_token(
    gl: GitLabEmulator, session: aiohttp.ClientSession
) -> None:
    wrong = "glpat-wrongToken98765"
    client = pull_requests(
        "gitlab", repo_url=REPO, token=wrong, session=session, api_url=str(gl.url)
    )
    with pytest.raises(SCMError) as caught:
        await client.create(head="h", base="main", title="t", body="", labels=[])
    assert caught.value.status == 401 and not caught.value.transient
    assert "401 Unauthorized" in str(caught.value)
    assert wrong not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        pytest.param(500, True, id="500-transient"),
        pytest.param(503, True, id="503-transient"),
        pytest.param(429, True, id="429-transient"),
        pytest.param(403, False, id="403-permanent"),
        pytest.param(404, False, id="404-permanent"),
    ],
)
async def test_error_statuses_map_to_scm_errors_with_the_right_transient_flag(
    client: PullRequests, gl: GitLabEmulator, status: int, transient: bool
) -> None:
    gl.fail_next(1, status)
    with pytest.raises(SCMError) as caught:
        await client.list_open(head_prefix="x", base="main")
    assert caught.value.status == status and caught.value.transient is transient


async def test_a_closing_failure_after_the_note_is_reported(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    mr = await client.create(head="h", base="main", title="t", body="", labels=[])
    gl.fail_next(1, 502, method="PUT")
    with pytest.raises(SCMError) as caught:
        await client.close(mr, comment="bye")
    assert caught.value.transient and "close merge request" in str(caught.value)
    assert gl.pull(PROJECT, 1).state == "opened"


async def test_an_answer_of_the_wrong_shape_is_a_clear_error(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    gl.fail_next(1, 200, text='{"message": "ok"}')
    with pytest.raises(SCMError, match="not a list of merge requests"):
        await client.find_open(head="h", base="main")
    gl.fail_next(1, 200, text="not json at all", content_type="application/json")
    with pytest.raises(SCMError, match="not valid JSON"):
        await client.find_open(head="h", base="main")


async def test_the_token_never_reaches_the_request_log(
    client: PullRequests, gl: GitLabEmulator
) -> None:
    mr = await client.create(head="h", base="main", title="t", body="b", labels=["l"])
    await client.update(mr, title="t2", body="b2")
    await client.list_open(head_prefix="h", base="main")
    await client.close(mr, comment="bye")
    assert all(r.status < 400 for r in gl.requests)
    assert TOKEN not in repr(gl.requests) and TOKEN not in repr(client)
