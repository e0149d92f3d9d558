"""What the reconciler remembers between cycles is reused only for exactly the same inputs.

``ReviewMemo`` keeps reviews by annotations, namespace rules and live images; the
``SelectionMemo`` keeps semver/alphabetical choices (and semver rankings) by tag list
content and shares the metadata reads of concurrent newest-build resolutions. Each is
checked both ways: reused when every input is equal, recomputed when any input differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater import kube, review
from imageupdater.credentials import CredentialRules
from imageupdater.errors import InvalidConstraint
from imageupdater.images import ImageRef
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings
from imageupdater.resolver import Resolution, SelectionMemo
from imageupdater.service import ResolverService
from imageupdater.strategies import SemverRanking, Strategy, select_allowed, semver_allowed
from imageupdater.tags import TagFilter
from imageupdater.versions import Constraint
from reconciler.apps_api import KubeApplications
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from reconciler.writeback import Outcome, Skipped, WriteContext
from tests.reconciler.conftest import PREFIX, application, seed_tags, stored

RULES = CredentialRules()
WEB = "ghcr.io/o/web"
GIT = {"image-list": f"web={WEB}", "write-back-method": "git"}


def app_with(
    annotations: dict[str, str] | None = None,
    *,
    namespace: str = "argocd",
    images: list[str] | None = None,
    revision: str | None = None,
) -> dict[str, Any]:
    source: dict[str, Any] = {"repoURL": "https://git.example/r.git", "path": "a", "kustomize": {}}
    if revision is not None:
        source["targetRevision"] = revision
    return application(
        "a",
        annotations if annotations is not None else {"image-list": f"web={WEB}"},
        namespace=namespace,
        images=images if images is not None else [f"{WEB}:1.0"],
        source=source,
    )


# -- ReviewMemo ----------------------------------------------------------------------------


def test_an_equal_application_is_reviewed_once_and_answered_alike() -> None:
    memo = review.ReviewMemo()
    first = memo.review(app_with(), RULES)
    again = memo.review(app_with(), RULES)  # an equal object, not the same one
    assert again is first
    assert (memo.hits, memo.misses) == (1, 1)
    assert first == review.review(app_with(), RULES)


# (what differs, the first Application, the second, rules for the second)
DIFFERENT_INPUTS: list[tuple[str, dict[str, Any], dict[str, Any], CredentialRules]] = [
    (
        "an annotation value",
        app_with({"image-list": f"web={WEB}", "web.allow-tags": "regexp:^1"}),
        app_with({"image-list": f"web={WEB}", "web.allow-tags": "regexp:^2"}),
        RULES,
    ),
    (
        "an annotation added",
        app_with(),
        app_with({"image-list": f"web={WEB}", "web.update-strategy": "bogus"}),
        RULES,
    ),
    (
        "the namespace",
        app_with({"image-list": f"web={WEB}", "web.pull-secret": "pullsecret:other/creds"}),
        app_with(
            {"image-list": f"web={WEB}", "web.pull-secret": "pullsecret:other/creds"},
            namespace="other",
        ),
        RULES,
    ),
    (
        "cross-namespace secrets allowed",
        app_with({"image-list": f"web={WEB}", "web.pull-secret": "pullsecret:other/creds"}),
        app_with({"image-list": f"web={WEB}", "web.pull-secret": "pullsecret:other/creds"}),
        CredentialRules(allow_cross_namespace_secrets=True),
    ),
    (
        "env: allowed in the namespace",
        app_with({"image-list": f"web={WEB}", "web.pull-secret": "env:TOKEN"}),
        app_with({"image-list": f"web={WEB}", "web.pull-secret": "env:TOKEN"}),
        CredentialRules(env_ext_namespaces=frozenset({"argocd"})),
    ),
    ("the live images", app_with(), app_with(images=["ghcr.io/o/api:1.0"]), RULES),
]


@pytest.mark.parametrize(
    ("first", "second", "rules"),
    [pytest.param(a, b, r, id=what) for what, a, b, r in DIFFERENT_INPUTS],
)
def test_a_review_is_not_reused_when_any_input_differs(
    first: dict[str, Any], second: dict[str, Any], rules: CredentialRules
) -> None:
    memo = review.ReviewMemo()
    before = memo.review(first, RULES)
    after = memo.review(second, rules)
    assert memo.misses == 2
    assert after == review.review(second, rules)
    assert after != before


def test_git_write_back_checks_follow_the_source_even_when_the_annotations_are_the_same() -> None:
    memo = review.ReviewMemo()
    on_a_tag = memo.review(app_with(GIT, revision="v1.2.3"), RULES)
    on_a_branch = memo.review(app_with(GIT, revision="main"), RULES)
    assert on_a_tag is not None and on_a_branch is not None
    assert [str(w) for w in on_a_tag.warnings] == [
        "git write-back: targetRevision 'v1.2.3' looks like a tag: commits to a branch would "
        "not change what Argo CD deploys; track a branch, or set git-branch"
    ]
    assert on_a_branch.warnings == ()
    assert on_a_tag == review.review(app_with(GIT, revision="v1.2.3"), RULES)
    assert on_a_branch == review.review(app_with(GIT, revision="main"), RULES)


def test_live_images_are_parsed_once_per_list_and_entries_follow_them() -> None:
    memo = review.ReviewMemo()
    first = memo.reviewed(app_with(images=[f"{WEB}:1.0", "not a reference!"]), RULES)
    again = memo.reviewed(app_with(images=[f"{WEB}:1.0", "not a reference!"]), RULES)
    moved = memo.reviewed(app_with(images=[f"{WEB}:2.0"]), RULES)
    assert first is not None and again is not None and moved is not None
    assert again.live is first.live
    assert first.live == (ImageRef.parse(f"{WEB}:1.0"),)
    assert first.entries == (ImageRef.parse(f"{WEB}:1.0"),)
    assert moved.entries == (ImageRef.parse(f"{WEB}:2.0"),)


def test_the_review_memo_forgets_the_least_recently_used_first() -> None:
    memo = review.ReviewMemo(max_entries=1)
    memo.review(app_with(), RULES)
    memo.review(app_with(images=["ghcr.io/o/api:1.0"]), RULES)
    memo.review(app_with(), RULES)
    assert (memo.hits, memo.misses) == (0, 3)


# -- SelectionMemo ---------------------------------------------------------------------------


def read(*tags: str) -> tuple[str, ...]:
    """A tag list as a fresh read hands it over: equal content, a new object."""
    return tuple(list(tags))  # noqa: C414 - a new object, as from a fresh read


def _resolution(tag: str) -> Resolution:
    return Resolution("r/x", Strategy.SEMVER, None, tag, None, (tag,))


def test_a_choice_is_reused_for_an_equal_tag_list_read_again() -> None:
    memo = SelectionMemo()
    memo.put("key", ("1.0.0", "1.1.0"), _resolution("1.1.0"))
    read_again = read("1.0.0", "1.1.0")
    assert memo.get("key", read_again) == _resolution("1.1.0")
    assert (memo.hits, memo.misses) == (1, 0)


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param(("1.1.0", "1.0.0"), id="reordered"),
        pytest.param(("1.0.0", "1.1.0", "1.2.0"), id="a tag added"),
        pytest.param(("1.0.0",), id="a tag removed"),
    ],
)
def test_a_choice_is_not_reused_for_a_tag_list_that_changed(tags: tuple[str, ...]) -> None:
    memo = SelectionMemo()
    memo.put("key", ("1.0.0", "1.1.0"), _resolution("1.1.0"))
    assert memo.get("key", tags) is None
    assert memo.get("other key", ("1.0.0", "1.1.0")) is None
    assert (memo.hits, memo.misses) == (0, 2)


def test_an_equal_tag_list_is_handed_back_as_the_one_seen_first() -> None:
    memo = SelectionMemo()
    first = read("1.0.0", "1.1.0")
    second = read("1.0.0", "1.1.0")
    changed = ("1.0.0", "1.1.0", "1.2.0")
    assert memo.canonical("repo", first) is first
    assert memo.canonical("repo", second) is first
    assert memo.canonical("repo", second) is first
    assert memo.canonical("other repo", second) is second
    assert memo.canonical("repo", changed) is changed
    assert memo.canonical("repo", first) is first  # back to the old content: a change again
    assert memo.canonical("repo", changed) is changed


def test_a_constraint_is_parsed_once_and_a_bad_one_fails_every_time() -> None:
    memo = SelectionMemo()
    assert memo.constraint("~1.2") is memo.constraint("~1.2")
    assert memo.constraint("~1.2") is not memo.constraint("~1.3")
    for _ in range(2):
        with pytest.raises(InvalidConstraint):
            memo.constraint(">=1.0 <")


def _conf(registry: LocalRegistry) -> RegistriesConf:
    return RegistriesConf.parse(
        f"registries:\n- name: l\n  prefix: {registry.host}\n  api_url: {registry.url}\n",
        source="test",
    )


async def test_a_tag_list_read_again_unchanged_reuses_the_choice_and_a_new_tag_does_not(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seed_tags(seeder, unique_repo, ["1.0.0", "1.1.0"])
    policy = ImagePolicy(image=ImageRef.parse(f"{registry.host}/{unique_repo}"))
    # No tag-list cache: every resolution reads the list from the registry.
    settings = ClientSettings(tag_list_ttl=0)
    async with ResolverService(_conf(registry), settings=settings) as service:
        first = await service.resolve(policy)
        again = await service.resolve(policy)
        assert (service.memo.hits, service.memo.misses) == (1, 1)
        await seed_tags(seeder, unique_repo, ["1.2.0"])
        newer = await service.resolve(policy)
        lists = service.client.counters.snapshot()["requests"][registry.host]["tags"]["2xx"]
    assert again is first
    assert (first.tag, newer.tag) == ("1.1.0", "1.2.0")
    assert service.memo.misses == 2
    assert lists == 3


def _digest_reads(service: ResolverService) -> dict[str, int]:
    return dict(service.client.counters.snapshot()["cache"]["digest"])


async def test_newest_build_resolutions_running_together_share_one_metadata_read(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seed_tags(seeder, unique_repo, ["a", "b", "c"])
    policy = ImagePolicy(
        image=ImageRef.parse(f"{registry.host}/{unique_repo}"), strategy=Strategy.NEWEST_BUILD
    )
    async with ResolverService(_conf(registry)) as service:
        together = await asyncio.gather(service.resolve(policy, "a"), service.resolve(policy, "b"))
        shared = _digest_reads(service)
        after = await service.resolve(policy, "c")
        later = _digest_reads(service)
        assert len(service.memo.metadata_reads) == 0
    assert [r.tag for r in together] == ["c", "c"]
    assert after.tag == "c"
    # Together: each tag's metadata asked once for both. Later: asked again (cached now).
    assert shared == {"miss": 3}
    assert later == {"miss": 3, "hit": 3}


async def test_newest_build_resolutions_with_different_platforms_do_not_share_reads(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seed_tags(seeder, unique_repo, ["a", "b"])
    image = ImageRef.parse(f"{registry.host}/{unique_repo}")
    ours = ImagePolicy(image=image, strategy=Strategy.NEWEST_BUILD)
    filtered = ImagePolicy(
        image=image,
        strategy=Strategy.NEWEST_BUILD,
        tag_filter=TagFilter.parse("regexp:^a$", ()),
    )
    async with ResolverService(_conf(registry)) as service:
        both = await asyncio.gather(service.resolve(ours), service.resolve(filtered))
        reads = _digest_reads(service)
    assert [r.tag for r in both] == ["b", "a"]
    assert sum(reads.values()) == 3  # two tags for one, one tag for the other


# -- the cycle -------------------------------------------------------------------------------


async def test_a_second_cycle_reuses_reviews_and_a_changed_annotation_is_read_afresh(
    kube_api: KubeAPI,
    make_cycle: Callable[..., Cycle],
    seeded: Callable[[list[str]], Any],
) -> None:
    image = await seeded(["1.0.0", "1.0.1", "1.1.0"])
    annotations = {"image-list": f"web={image}:~1.0"}
    kube_api.store.put(application("app", annotations, images=[f"{image}:1.0.0"]))
    cycle = make_cycle()
    await cycle.run([stored(kube_api, "app")])
    assert stored(kube_api, "app")["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.0.1"]
    await cycle.run([stored(kube_api, "app")])
    assert (cycle.reviews.hits, cycle.reviews.misses) == (1, 1)
    app = stored(kube_api, "app")
    app["metadata"]["annotations"][PREFIX + "image-list"] = f"web={image}:~1.1"
    kube_api.store.put(app)
    result = await cycle.run([stored(kube_api, "app")])
    assert cycle.reviews.misses == 2
    assert result.patches == 1
    assert stored(kube_api, "app")["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.1.0"]


class SlowApplications(KubeApplications):
    """The real Kubernetes adapter, its patches held a moment and counted while in flight."""

    def __init__(self, client: kube.KubeClient, metrics: ReconcilerMetrics) -> None:
        super().__init__(client, metrics)
        self.in_flight = 0
        self.most = 0

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Any:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await super().patch(namespace, name, patch)
        finally:
            self.in_flight -= 1


async def test_writes_run_at_most_max_concurrency_at_a_time_and_every_application_is_written(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
    seeded: Callable[[list[str]], Any],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    names = [f"app-{n}" for n in range(7)]
    for name in names:
        kube_api.store.put(
            application(name, {"image-list": f"web={image}"}, images=[f"{image}:1.0.0"])
        )
    api = SlowApplications(cluster, metrics)
    cycle = Cycle(
        api=api,
        resolve=resolver.resolve,
        scope=resolver.cycle,
        metrics=metrics,
        events=EventRecorder(cluster),
        settings=CycleSettings(max_concurrency=2),
    )
    result = await cycle.run([stored(kube_api, name) for name in names])
    assert (result.applications, result.patches) == (7, 7)
    assert api.most == 2
    for name in names:
        assert stored(kube_api, name)["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.1.0"]


class BrokenWriter:
    """A write-back method whose writer fails in a way no outcome describes."""

    streaming = True
    previews = False

    async def write(self, changes: Any, context: WriteContext) -> list[Outcome]:
        raise RuntimeError("writer bug")

    async def preview(self, changes: list[Skipped]) -> None:
        return None


async def test_a_write_that_fails_unexpectedly_ends_the_cycle_and_leaves_no_task_behind(
    kube_api: KubeAPI,
    make_cycle: Callable[..., Cycle],
    seeded: Callable[[list[str]], Any],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    for name in ("a", "b", "c"):
        kube_api.store.put(
            application(name, {"image-list": f"web={image}"}, images=[f"{image}:1.0.0"])
        )
    cycle = make_cycle(writers={"argocd": BrokenWriter()})
    with pytest.raises(RuntimeError, match="writer bug"):
        await cycle.run([stored(kube_api, name) for name in ("a", "b", "c")])
    # (The emulator serves from this loop too: only the cycle's own tasks count.)
    left = [
        task.get_coro()
        for task in asyncio.all_tasks()
        if "Cycle." in getattr(task.get_coro(), "__qualname__", "")
    ]
    assert left == []


TAGS = ("0.9.0", "1.0.0", "1.1.0", "v1.1.0", "1.2.0-rc.1", "2.0.0", "latest")


@pytest.mark.parametrize(
    "current",
    [None, "", "0.9.0", "1.1.0", "2.0.0", "3.0.0", "2.5.0", "latest", "not-a-version"],
)
@pytest.mark.parametrize("constraint", ["", "~1.0", "^1", ">=1.1 <3", "~5.0"])
def test_a_semver_ranking_chooses_as_the_full_selection_does(
    current: str | None, constraint: str
) -> None:
    allowed = semver_allowed(TAGS, Constraint.parse(constraint))
    ranking = SemverRanking.of(allowed)
    assert ranking.choose(current) == select_allowed(allowed, current=current)
    assert ranking.names == tuple(entry.tag.name for entry in allowed)


async def test_a_new_current_tag_is_chosen_from_the_remembered_ranking_of_the_same_list(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seed_tags(seeder, unique_repo, ["1.0.0", "1.1.0", "2.0.0"])
    image = ImageRef.parse(f"{registry.host}/{unique_repo}")
    policy = ImagePolicy(image=image, constraint="^1")
    other_constraint = ImagePolicy(image=image, constraint="^2")
    settings = ClientSettings(tag_list_ttl=0)
    async with ResolverService(_conf(registry), settings=settings) as service:
        assert (await service.resolve(policy, "1.0.0")).tag == "1.1.0"
        assert (await service.resolve(policy, "1.1.0")).tag == "1.1.0"
        # Above every allowed version: never a downgrade; not a listed tag: nothing.
        assert (await service.resolve(policy, "1.5.0")).tag is None
        assert service.memo.rankings_reused == 2
        assert (await service.resolve(other_constraint, "1.0.0")).tag == "2.0.0"
        assert service.memo.rankings_reused == 2
        await seed_tags(seeder, unique_repo, ["1.2.0"])
        assert (await service.resolve(policy, "1.0.0")).tag == "1.2.0"
        assert service.memo.rankings_reused == 2
