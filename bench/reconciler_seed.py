"""Seeding the reconciler benchmark's registry fast, once, and putting it back after a run.

Speed comes from pushing as little as the strategies need: every repository gets one layer
blob; semver and digest repositories share one config and one manifest among all their tags
(a tag is one manifest PUT), newest-build repositories get a config per tag because the
strategy reads creation dates. Pushes run 32 at a time. The storage directory lives under
``bench/out/`` with a stamp naming the workload's fingerprint, so later runs reuse it; the
tags a run pushes are removed from storage (registry stopped) before the next run, which
keeps every run's starting state identical.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import shutil
import tarfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from reconciler_workload import Repo, Workload

from devcluster.seeder import MEDIA_TYPES, Blob, ImageSeeder, format_created
from imageupdater.platforms import current_platform

STAMP = "seeded.json"
SCHEME = 2  # bump when the seeded bytes change
CONCURRENCY = 32
_TYPES = MEDIA_TYPES["docker"]


@dataclass(frozen=True, slots=True)
class SeedReport:
    reused: bool
    seconds: float
    tags: int
    requests: int


def _layer(repo: str) -> Blob:
    buf = io.BytesIO()
    content = f"{repo}\n".encode()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("seed.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    return Blob.of(_TYPES["layer"], gzip.compress(buf.getvalue(), mtime=0))


def _config(repo: Repo, position: int) -> Blob:
    platform = current_platform()
    doc: dict[str, object] = {
        "architecture": platform.arch,
        "os": platform.os,
        "created": format_created(repo.created(position)),
        "config": {"Labels": {"org.opencontainers.image.source": repo.name}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    if platform.variant:
        doc["variant"] = platform.variant
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return Blob.of(_TYPES["config"], data)


def _manifest(config: Blob, layer: Blob) -> Blob:
    doc = {
        "schemaVersion": 2,
        "mediaType": _TYPES["manifest"],
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }
    return Blob.of(_TYPES["manifest"], json.dumps(doc, sort_keys=True).encode())


def shared_manifest(repo: Repo) -> tuple[Blob, Blob, Blob]:
    """(layer, config, manifest) every tag of a semver or digest repository points at."""
    layer = _layer(repo.name)
    config = _config(repo, 0)
    return layer, config, _manifest(config, layer)


def followed_digest(repo: Repo) -> str:
    return shared_manifest(repo)[2].digest


class Pusher:
    """The two distribution API calls seeding needs, with a request count."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.requests = 0

    async def blob(self, repo: str, blob: Blob) -> None:
        self.requests += 1
        async with self.session.head(f"{self.base_url}/v2/{repo}/blobs/{blob.digest}") as resp:
            if resp.status == 200:
                return
        self.requests += 2
        async with self.session.post(f"{self.base_url}/v2/{repo}/blobs/uploads/") as resp:
            location = resp.headers.get("Location", "")
            if resp.status != 202 or not location:
                raise RuntimeError(f"upload to {repo} answered {resp.status}")
        if location.startswith("/"):
            location = self.base_url + location
        joiner = "&" if "?" in location else "?"
        target = f"{location}{joiner}digest={blob.digest}"
        headers = {"Content-Type": "application/octet-stream"}
        async with self.session.put(target, data=blob.data, headers=headers) as resp:
            if resp.status != 201:
                raise RuntimeError(f"PUT blob {repo}@{blob.digest} answered {resp.status}")

    async def manifest(self, repo: str, tag: str, manifest: Blob) -> None:
        self.requests += 1
        url = f"{self.base_url}/v2/{repo}/manifests/{tag}"
        headers = {"Content-Type": manifest.media_type}
        async with self.session.put(url, data=manifest.data, headers=headers) as resp:
            if resp.status != 201:
                body = (await resp.read())[:200]
                raise RuntimeError(f"PUT manifest {repo}:{tag} answered {resp.status}: {body!r}")


async def _pool(jobs: Iterable[Callable[[], Awaitable[None]]], workers: int) -> None:
    """Run ``jobs`` with ``workers`` in flight; the first failure cancels the rest."""
    queue = iter(jobs)

    async def worker() -> None:
        for job in queue:
            await job()

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())


def _jobs(pusher: Pusher, repos: Iterable[Repo]) -> tuple[list[Callable[[], Awaitable[None]]], ...]:
    blobs: list[Callable[[], Awaitable[None]]] = []
    manifests: list[Callable[[], Awaitable[None]]] = []
    for repo in repos:
        layer, config, shared = shared_manifest(repo)
        blobs += [_bind(pusher.blob, repo.name, layer), _bind(pusher.blob, repo.name, config)]
        for position, tag in enumerate(repo.tags):
            if repo.kind == "newest":
                own = _config(repo, position)
                blobs.append(_bind(pusher.blob, repo.name, own))
                manifests.append(_bind(pusher.manifest, repo.name, tag, _manifest(own, layer)))
            else:
                manifests.append(_bind(pusher.manifest, repo.name, tag, shared))
    return blobs, manifests


def _bind(func: Callable[..., Awaitable[None]], *args: object) -> Callable[[], Awaitable[None]]:
    return lambda: func(*args)


async def seed(base_url: str, workload: Workload) -> tuple[int, int]:
    """Push every repository of ``workload``; returns (tags pushed, requests made)."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        pusher = Pusher(base_url, session)
        blobs, manifests = _jobs(pusher, workload.repos)
        await _pool(blobs, CONCURRENCY)
        await _pool(manifests, CONCURRENCY)
    return len(manifests), pusher.requests


async def push_new_tags(base_url: str, workload: Workload) -> dict[str, str]:
    """The "new release" of every affected repository, pushed with the devcluster seeder
    (its own layer and config, so a new digest); returns {repo: digest}."""
    platform = str(current_platform())
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(base_url, session)

        async def one(repo: Repo) -> tuple[str, str]:
            created = repo.created(len(repo.tags))
            digest = await seeder.push(
                repo.name, repo.new_tag, created=created, platforms=(platform,)
            )
            return repo.name, digest

        return dict(await asyncio.gather(*(one(r) for r in workload.affected)))


def _tags_dir(workdir: Path, repo: str) -> Path:
    return workdir / "data/docker/registry/v2/repositories" / repo / "_manifests/tags"


def prepare(workdir: Path, workload: Workload, *, reseed: bool) -> bool:
    """Make ``workdir`` ready for a registry start (it must not be running); True when the
    storage must be seeded. Removes the tags an earlier run pushed, even after a crash."""
    stamp = workdir / STAMP
    wanted = {"scheme": SCHEME, "fingerprint": workload.fingerprint()}
    if not reseed and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        for repo in workload.repos:
            shutil.rmtree(_tags_dir(workdir, repo.name) / repo.new_tag, ignore_errors=True)
        return False
    stamp.unlink(missing_ok=True)
    shutil.rmtree(workdir / "data", ignore_errors=True)
    return True


def mark_seeded(workdir: Path, workload: Workload) -> None:
    stamp = {"scheme": SCHEME, "fingerprint": workload.fingerprint()}
    (workdir / STAMP).write_text(json.dumps(stamp, sort_keys=True))
