"""The reconciler benchmark's workload, as plain data: repositories with their tags, and
Applications with their annotations and live images.

Everything here is deterministic from a seed and a size, and pure (no I/O), so the seeder,
the Application objects and the expected answers all derive from one description. The
expected answers (which Applications a cycle must patch) and the request count of
upstream's documented algorithm are computed here independently of the reconciler: own
version parsing, own constraint checks, own "newest" ordering.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

RepoKind = Literal["semver", "newest", "digest"]
AppKind = Literal["kustomize", "helm", "multi"]
PREFIX = "argocd-image-updater.argoproj.io/"
NAMESPACE = "argocd"
PROJECTS = ("team-a", "team-b", "team-c", "team-d", "team-e")
BASE_TIME = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
FOLLOWED_TAG = "latest"
NEWEST_ALLOW = "regexp:^main-"
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_ALIASES = ("web", "worker", "cron")


@dataclass(frozen=True, slots=True)
class Size:
    apps: int
    repos: int
    min_tags: int
    max_tags: int
    newest_repos: int  # repositories whose Applications use newest-build
    digest_repos: int  # repositories whose Applications follow a tag by digest
    affected: int  # repositories that get a new tag before the last cycle


FULL = Size(
    apps=2000, repos=300, min_tags=100, max_tags=300, newest_repos=24, digest_repos=15, affected=15
)
QUICK = Size(apps=24, repos=8, min_tags=6, max_tags=12, newest_repos=2, digest_repos=1, affected=2)


@dataclass(frozen=True, slots=True)
class Repo:
    name: str  # repository path in the registry, e.g. "bench/svc-007"
    kind: RepoKind
    tags: tuple[str, ...]  # in push order; for "newest" also in creation order
    new_tag: str  # the tag the "5 %" phase pushes (allowed by every policy on the repo)

    def created(self, position: int) -> dt.datetime:
        """Creation time of the tag pushed ``position``-th (newest-build repositories build
        in push order, an hour apart; the new tag is ``len(tags)``, the newest)."""
        return BASE_TIME + dt.timedelta(hours=position)

    def in_push_order(self, *, with_new: bool) -> list[str]:
        return [*self.tags, self.new_tag] if with_new else list(self.tags)


@dataclass(frozen=True, slots=True)
class AppImage:
    alias: str
    repo: Repo
    constraint: str  # semver constraint, "" for none; the followed tag for digest
    live_tag: str
    live_digest: str | None  # digest strategy only


@dataclass(frozen=True, slots=True)
class App:
    name: str
    kind: AppKind
    project: str
    images: tuple[AppImage, ...]


@dataclass(frozen=True, slots=True)
class Workload:
    size: Size
    repos: tuple[Repo, ...]
    apps: tuple[App, ...]
    affected: tuple[Repo, ...]  # the repositories that get a new tag
    digests: Mapping[str, str]  # repo name -> digest FOLLOWED_TAG points at (digest repos)

    def fingerprint(self) -> str:
        """Identifies what the registry must hold; the seeding stamp stores it."""
        text = "\n".join(f"{r.name} {r.kind} {' '.join(r.tags)}" for r in self.repos)
        return hashlib.sha256(text.encode()).hexdigest()


# -- versions, independent of imageupdater.versions ----------------------------------------


def parse_version(tag: str) -> tuple[int, int, int] | None:
    match = _SEMVER.match(tag)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def allows(constraint: str, version: tuple[int, int, int]) -> bool:
    """The few constraint shapes the workload writes: "", "^M", "M.x", "~M.K", ">=M.0.0"."""
    major, minor, _ = version
    if constraint == "":
        return True
    if constraint.startswith("^"):
        return major == int(constraint[1:])
    if constraint.endswith(".x"):
        return major == int(constraint[:-2])
    if constraint.startswith("~"):
        want_major, want_minor = (int(p) for p in constraint[1:].split("."))
        return (major, minor) == (want_major, want_minor)
    floor = parse_version(constraint[2:]) if constraint.startswith(">=") else None
    if floor is not None:
        return version >= floor
    raise ValueError(f"the workload does not write constraint {constraint!r}")


def target_tag(image: AppImage, *, with_new: bool) -> str:
    """The tag ``image`` should run: the newest allowed (semver) or the newest built."""
    repo = image.repo
    tags = repo.in_push_order(with_new=with_new)
    if repo.kind == "digest":
        return image.constraint
    if repo.kind == "newest":
        return max((position, t) for position, t in enumerate(tags) if t.startswith("main-"))[1]
    versions = [(v, t) for t in tags if (v := parse_version(t)) and allows(image.constraint, v)]
    return max(versions)[1]


def outdated(image: AppImage, digests: Mapping[str, str], *, with_new: bool) -> bool:
    if image.repo.kind == "digest":
        return image.live_digest != digests[image.repo.name]
    return image.live_tag != target_tag(image, with_new=with_new)


def expected_cold(workload: Workload) -> set[str]:
    """Applications with at least one outdated image when the benchmark starts."""
    return {
        app.name
        for app in workload.apps
        if any(outdated(i, workload.digests, with_new=False) for i in app.images)
    }


def expected_after_new_tags(workload: Workload) -> set[str]:
    """Applications a cycle must patch once the affected repositories got their new tag
    (after a cycle that already brought everything up to date)."""
    affected = {r.name for r in workload.affected}
    return {
        app.name
        for app in workload.apps
        for image in app.images
        if image.repo.name in affected
        and target_tag(image, with_new=True) != target_tag(image, with_new=False)
    }


# -- generation ----------------------------------------------------------------------------


def _hex(*parts: object) -> str:
    return hashlib.sha256(" ".join(map(str, parts)).encode()).hexdigest()


def _semver_tags(rng: random.Random, count: int, prefix: str) -> tuple[list[str], str]:
    """``count`` tags: rising versions, a few prereleases and ``latest``; and the next patch."""
    major, minor, patch = 1, 0, 0
    tags: list[str] = []
    while len(tags) < count - 1:
        tags.append(f"{prefix}{major}.{minor}.{patch}")
        roll = rng.random()
        if roll < 0.08 and len(tags) < count - 2:
            tags.append(f"{prefix}{major}.{minor}.{patch + 1}-rc.1")
        if roll < 0.03:
            major, minor, patch = major + 1, 0, 0
        elif roll < 0.25:
            minor, patch = minor + 1, 0
        else:
            patch += 1
    tags.append(FOLLOWED_TAG)
    last = max(v for t in tags if (v := parse_version(t)))
    return tags, f"{prefix}{last[0]}.{last[1]}.{last[2] + 1}"


def _newest_tags(rng: random.Random, count: int, repo: str) -> tuple[list[str], str]:
    tags = []
    for index in range(count - 1):
        branch = "pr-" + str(rng.randint(100, 999)) if rng.random() < 0.15 else "main"
        tags.append(f"{branch}-{_hex(repo, index)[:7]}")
    tags.append(f"main-{_hex(repo, 'final')[:7]}")  # the newest build is on main
    return tags, f"main-{_hex(repo, 'new')[:7]}"


def _constraints(repo: Repo) -> list[str]:
    if repo.kind == "digest":
        return [FOLLOWED_TAG]
    if repo.kind == "newest":
        return [""]
    versions = [v for t in repo.tags if (v := parse_version(t))]
    major, minor, _ = max(versions)
    return ["", f"^{major}", f"{major}.x", f"~{major}.{minor}", f">={major}.0.0"]


def _live(rng: random.Random, repo: Repo, constraint: str, digest: str) -> tuple[str, str | None]:
    """A live tag: the target for about 60 % of images, an older allowed one otherwise."""
    stale = rng.random() < 0.4
    if repo.kind == "digest":
        return FOLLOWED_TAG, ("sha256:" + _hex(repo.name, "old")) if stale else digest
    probe = AppImage("x", repo, constraint, "", None)
    target = target_tag(probe, with_new=False)
    if not stale:
        return target, None
    if repo.kind == "newest":
        older = [t for t in repo.tags if t.startswith("main-") and t != target]
    else:
        older = [
            t
            for t in repo.tags
            if (v := parse_version(t)) and allows(constraint, v) and t != target
        ]
    return (rng.choice(older) if older else target), None


def build(size: Size, digest_of: Callable[[Repo], str], seed: int = 5) -> Workload:
    """The workload for ``size``; ``digest_of`` names the digest a digest repository's
    followed tag points at (the seeder computes it from the image bytes)."""
    rng = random.Random(seed)
    repos: list[Repo] = []
    for index in range(size.repos):
        name = f"bench/svc-{index:03d}"
        count = rng.randint(size.min_tags, size.max_tags)
        repo_kind: RepoKind = (
            "newest"
            if index < size.newest_repos
            else "digest"
            if index < size.newest_repos + size.digest_repos
            else "semver"
        )
        if repo_kind == "newest":
            tags, new = _newest_tags(rng, count, name)
        else:
            tags, new = _semver_tags(rng, count, "v" if rng.random() < 0.3 else "")
        repos.append(Repo(name, repo_kind, tuple(tags), new))
    digests = {r.name: digest_of(r) for r in repos if r.kind == "digest"}
    # Popular repositories are used by many Applications, the tail by a few.
    weights = [1.0 / (rank + 1) ** 0.5 for rank in range(size.repos)]
    rng.shuffle(weights)
    apps: list[App] = []
    for index in range(size.apps):
        count = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
        chosen: list[Repo] = []
        while len(chosen) < count:
            repo = repos[index % size.repos] if not chosen and index < size.repos else None
            repo = repo or rng.choices(repos, weights=weights)[0]
            if repo not in chosen:
                chosen.append(repo)
        images = []
        for alias, repo in zip(_ALIASES, chosen, strict=False):
            constraint = rng.choice(_constraints(repo))
            tag, digest = _live(rng, repo, constraint, digests.get(repo.name, ""))
            images.append(AppImage(alias, repo, constraint, tag, digest))
        kind: AppKind = rng.choices(("kustomize", "helm", "multi"), weights=(45, 40, 15))[0]
        apps.append(App(f"app-{index:04d}", kind, rng.choice(PROJECTS), tuple(images)))
    affected = _pick_affected(rng, repos, size.affected)
    return Workload(size, tuple(repos), tuple(apps), affected, digests)


def _pick_affected(rng: random.Random, repos: Sequence[Repo], count: int) -> tuple[Repo, ...]:
    """Semver and newest-build repositories (a new tag does not move a followed digest)."""
    newest = [r for r in repos if r.kind == "newest"]
    semver = [r for r in repos if r.kind == "semver"]
    picks = rng.sample(newest, max(1, count // 8)) if newest else []
    picks += rng.sample(semver, count - len(picks))
    return tuple(sorted(picks, key=lambda r: r.name))


# -- Application objects -------------------------------------------------------------------


def app_annotations(app: App, host: str) -> dict[str, str]:
    entries = []
    keys: dict[str, str] = {}
    for image in app.images:
        ref = f"{host}/{image.repo.name}"
        spec = f"{ref}:{image.constraint}" if image.constraint else ref
        entries.append(f"{image.alias}={spec}")
        if image.repo.kind == "newest":
            keys[f"{image.alias}.update-strategy"] = "newest-build"
            keys[f"{image.alias}.allow-tags"] = NEWEST_ALLOW
        elif image.repo.kind == "digest":
            keys[f"{image.alias}.update-strategy"] = "digest"
        else:
            keys[f"{image.alias}.ignore-tags"] = "*-rc*"
        if app.kind != "kustomize" and (len(app.images) > 1 or image.alias != "web"):
            keys[f"{image.alias}.helm.image-name"] = f"{image.alias}.image.repository"
            keys[f"{image.alias}.helm.image-tag"] = f"{image.alias}.image.tag"
    keys["image-list"] = ", ".join(entries)
    return {PREFIX + k: v for k, v in keys.items()}


def live_image(image: AppImage, host: str) -> str:
    text = f"{host}/{image.repo.name}:{image.live_tag}"
    return f"{text}@{image.live_digest}" if image.live_digest else text


def application(app: App, host: str) -> dict[str, Any]:
    """The Application as the emulator stores it (Argo CD has reported its live images)."""
    status: dict[str, Any] = {
        "summary": {"images": [live_image(i, host) for i in app.images]},
        "sync": {"status": "Synced"},
        "health": {"status": "Healthy"},
    }
    spec: dict[str, Any] = {
        "project": app.project,
        "destination": {"server": "https://kubernetes.default.svc", "namespace": app.name},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }
    chart = {
        "repoURL": "https://charts.example.org",
        "chart": app.name,
        "targetRevision": "1.4.2",
    }
    if app.kind == "kustomize":
        spec["source"] = {
            "repoURL": "https://git.example.org/platform/apps.git",
            "path": f"apps/{app.name}/overlays/prod",
            "targetRevision": "main",
            "kustomize": {"commonLabels": {"team": app.project}},
        }
        status["sourceType"] = "Kustomize"
    elif app.kind == "helm":
        spec["source"] = {
            **chart,
            "helm": {
                "valueFiles": ["values-prod.yaml"],
                "parameters": [{"name": "replicaCount", "value": "3"}],
            },
        }
        status["sourceType"] = "Helm"
    else:
        spec["sources"] = [
            {
                "repoURL": "https://git.example.org/platform/values.git",
                "targetRevision": "main",
                "ref": "values",
            },
            {**chart, "helm": {"valueFiles": [f"$values/{app.name}/values.yaml"]}},
        ]
        status["sourceTypes"] = ["Directory", "Helm"]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": app.name,
            "namespace": NAMESPACE,
            "labels": {"team": app.project},
            "annotations": app_annotations(app, host),
        },
        "spec": spec,
        "status": status,
    }


def app_project(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
        },
    }


def update_policies(count: int) -> list[dict[str, Any]]:
    """``count`` ClusterImageUpdatePolicies that all match every Application (namespace,
    project glob, name glob), each with rules every image of the workload keeps, so every
    candidate is judged by every policy and none is held back: a third ``Enforce``, a third
    ``Warn``, a third ``Audit``. (``maxBump`` is left out: it holds the newest-build images,
    whose running tags are not versions, back by design; ``latest`` is not denied: the
    digest-followed images run it.)"""
    actions = ("Enforce", "Warn", "Audit")
    return [
        {
            "apiVersion": "image-updater.io/v1alpha1",
            "kind": "ClusterImageUpdatePolicy",
            "metadata": {"name": f"bench-{i:02d}"},
            "spec": {
                "action": actions[i % 3],
                "match": {"namespaces": [NAMESPACE], "projects": ["team-*"], "names": ["app-*"]},
                "rules": {
                    "allowedRegistries": ["127.0.0.1:*", "*"],
                    "allowedRepositories": ["*/bench/*", f"*/bench/team-{i}/*"],
                    "deniedTags": ["*-debug", f"*-debug-{i}", "*-snapshot"],
                    "allowedStrategies": ["semver", "newest-build", "digest"],
                },
            },
        }
        for i in range(count)
    ]


# -- upstream's documented algorithm on the same workload ----------------------------------


def upstream_requests(
    workload: Workload, phase: Literal["cold", "warm", "new-tags"]
) -> dict[str, int]:
    """Registry requests upstream's documented algorithm makes in one cycle (behaviour §5,
    §14, §19): one tag list per Application image; newest-build metadata per uncached tag
    (a manifest GET and a config-blob GET for a single-platform image; cached forever by
    tag name, so only cold tags and new tags cost); digest: one manifest GET and one
    config-blob GET for the followed tag, uncached, every cycle. ``ping`` is the ``/v2/``
    request upstream makes per image check, kept apart as the docs do not count it."""
    images = [i for app in workload.apps for i in app.images]
    counts = {"tags": len(images), "manifest_get": 0, "blob": 0, "ping": len(images)}
    newest = {i.repo.name: i.repo for i in images if i.repo.kind == "newest"}
    affected = {r.name for r in workload.affected}
    for repo in newest.values():
        if phase == "cold":
            tagged = sum(1 for t in repo.tags if re.search(NEWEST_ALLOW[7:], t))
        else:
            tagged = 1 if phase == "new-tags" and repo.name in affected else 0
        counts["manifest_get"] += tagged
        counts["blob"] += tagged
    followers = sum(1 for i in images if i.repo.kind == "digest")
    counts["manifest_get"] += followers
    counts["blob"] += followers
    return counts
