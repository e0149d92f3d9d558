"""The registry-resolution benchmark's synthetic registry: its layout and its fast seeding.

Owns :class:`SeedPlan` (which repositories exist, which builds each has, the three tags each
build is pushed under, which repositories are multi-arch), the bytes of every build
(:func:`build_images`, deterministic, so the measuring side recomputes expected digests
without asking the registry), and :func:`ensure_seeded`, which pushes the plan into a
``devcluster.registry.LocalRegistry`` whose storage lives under ``bench/out/`` and writes a
stamp so later runs reuse it.

Seeding is shaped for speed the way CI pipelines are shaped: one build is one image pushed
under a semver tag, a date tag and a sha tag, so a config blob (the build's creation date)
serves three tags; each platform's single layer blob is uploaded once and mounted into every
other repository; pushes run many at a time. The repository name sits in each config's
labels, so no config is shared between repositories (every one costs the resolver a fetch).
"""

from __future__ import annotations

__all__ = ["BuildImages", "SeedPlan", "build_images", "ensure_seeded", "stamp_matches"]

import asyncio
import datetime as dt
import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from devcluster.registry import LocalRegistry
from devcluster.seeder import MEDIA_TYPES, Blob, ImageSeeder, Media, format_created

# Bump when the bytes or the tag layout change: an old stamp then no longer matches.
SEED_VERSION = 1
_BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_LAYER_SOURCE = "bench-base/layers"
_STAMP = "stamp.json"


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """``repositories`` × ``builds``; every build carries three tags (the newest one carries
    ``latest`` instead of a semver tag), so a repository has ``3 * builds`` tags."""

    repositories: int = 200
    builds: int = 100
    multiarch_every: int = 5  # every n-th repository is linux/amd64 + linux/arm64

    def __post_init__(self) -> None:
        if not 1 <= self.builds <= 100:
            raise ValueError(f"builds={self.builds} is not valid; expected 1..100")
        if self.repositories < 1 or self.multiarch_every < 1:
            raise ValueError("repositories and multiarch_every must be at least 1")

    @property
    def tags_per_repository(self) -> int:
        return 3 * self.builds

    @property
    def total_tags(self) -> int:
        return self.repositories * self.tags_per_repository

    def repository(self, r: int) -> str:
        return f"team-{r % 10}/svc-{r:03d}"

    def multiarch(self, r: int) -> bool:
        return r % self.multiarch_every == 0

    def platforms(self, r: int) -> tuple[str, ...]:
        return ("linux/amd64", "linux/arm64") if self.multiarch(r) else ("linux/amd64",)

    def media(self, r: int) -> Media:
        # Half of the multi-arch repositories use OCI indexes, the rest Docker manifest lists.
        return "oci" if self.multiarch(r) and (r // self.multiarch_every) % 2 else "docker"

    def created(self, r: int, i: int) -> dt.datetime:
        return _BASE + dt.timedelta(hours=i, minutes=r % 60)

    def version(self, r: int, i: int) -> tuple[int, int, int, bool] | None:
        """(major, minor, patch, prerelease) of build ``i``; ``None`` for the newest build."""
        if i == self.builds - 1:
            return None
        # Spread any number of builds over 0.0.0 .. 3.4.4 so every constraint finds some.
        j = i * 100 // self.builds
        return j // 25, (j % 25) // 5, j % 5, j % 10 == 9

    def version_tag(self, r: int, i: int) -> str | None:
        parts = self.version(r, i)
        if parts is None:
            return None
        major, minor, patch, pre = parts
        prefix = "v" if r % 4 == 3 else ""
        return f"{prefix}{major}.{minor}.{patch}{'-rc.1' if pre else ''}"

    def date_tag(self, r: int, i: int) -> str:
        return self.created(r, i).strftime("%Y%m%d-%H%M")

    def sha_tag(self, r: int, i: int) -> str:
        return "sha-" + hashlib.sha256(f"{self.repository(r)}#{i}".encode()).hexdigest()[:7]

    def tags_of(self, r: int, i: int) -> tuple[str, str, str]:
        return (self.version_tag(r, i) or "latest", self.date_tag(r, i), self.sha_tag(r, i))

    def stamp(self) -> dict[str, object]:
        return {"seed_version": SEED_VERSION, **asdict(self)}


def _layer(platform: str) -> tuple[bytes, str]:
    """One reproducible gzip'd tar per platform (shared by every repository) and its diff_id."""
    content = f"registry-resolve bench layer for {platform}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("bench.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    plain = buf.getvalue()
    return gzip.compress(plain, mtime=0), "sha256:" + hashlib.sha256(plain).hexdigest()


_LAYERS = {p: _layer(p) for p in ("linux/amd64", "linux/arm64")}


def _canonical(doc: object) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class BuildImages:
    """Everything one build uploads: per platform a config and an image manifest, and the
    ``top`` its tags point at (an index for multi-arch builds, else the image manifest)."""

    configs: tuple[Blob, ...]
    children: tuple[Blob, ...]  # pushed by digest; empty for a single-platform build
    top: Blob


def layer_blobs(plan: SeedPlan, r: int) -> tuple[Blob, ...]:
    media = MEDIA_TYPES[plan.media(r)]
    return tuple(Blob.of(media["layer"], _LAYERS[p][0]) for p in plan.platforms(r))


def build_images(plan: SeedPlan, r: int, i: int) -> BuildImages:
    media = MEDIA_TYPES[plan.media(r)]
    stamp = format_created(plan.created(r, i))
    configs: list[Blob] = []
    manifests: list[tuple[Blob, dict[str, str]]] = []
    for platform, layer in zip(plan.platforms(r), layer_blobs(plan, r), strict=True):
        os_, arch = platform.split("/")
        config = Blob.of(
            media["config"],
            _canonical(
                {
                    "architecture": arch,
                    "os": os_,
                    "created": stamp,
                    "config": {"Labels": {"bench.repository": plan.repository(r), "build": str(i)}},
                    "rootfs": {"type": "layers", "diff_ids": [_LAYERS[platform][1]]},
                    "history": [{"created": stamp, "created_by": "registry-resolve bench"}],
                }
            ),
        )
        configs.append(config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": media["manifest"],
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        }
        manifests.append(
            (Blob.of(media["manifest"], _canonical(manifest)), {"architecture": arch, "os": os_})
        )
    if len(manifests) == 1:
        return BuildImages(tuple(configs), (), manifests[0][0])
    index = {
        "schemaVersion": 2,
        "mediaType": media["index"],
        "manifests": [{**m.descriptor(), "platform": p} for m, p in manifests],
    }
    return BuildImages(
        tuple(configs), tuple(m for m, _ in manifests), Blob.of(media["index"], _canonical(index))
    )


class _BulkSeeder(ImageSeeder):
    """ImageSeeder plus the two shortcuts bulk seeding needs: uploading a blob known to be
    new without the existence check, and mounting a blob from another repository."""

    requests = 0

    async def upload_new(self, repository: str, blob: Blob) -> None:
        self.requests += 2
        _, headers, _ = await self._request(
            "POST", f"/v2/{repository}/blobs/uploads/", repository, expect=(202,)
        )
        await self._finish_upload(repository, blob, headers.get("Location", ""))

    async def mount(self, repository: str, blob: Blob, source: str) -> None:
        self.requests += 1
        status, headers, _ = await self._request(
            "POST",
            f"/v2/{repository}/blobs/uploads/?mount={blob.digest}&from={source}",
            repository,
            expect=(201, 202),
        )
        if status == 202:  # the registry declined the mount and opened an upload instead
            self.requests += 1
            await self._finish_upload(repository, blob, headers.get("Location", ""))

    async def put(self, repository: str, reference: str, manifest: Blob) -> None:
        self.requests += 1
        await self._put_manifest(repository, reference, manifest)


async def _push(seeder: _BulkSeeder, plan: SeedPlan, r: int, i: int | None) -> None:
    """The layers of repository ``r`` (``i`` None), or build ``i`` under its three tags."""
    repository = plan.repository(r)
    if i is None:
        for blob in layer_blobs(plan, r):
            await seeder.mount(repository, blob, _LAYER_SOURCE)
        return
    images = build_images(plan, r, i)
    await asyncio.gather(*(seeder.upload_new(repository, c) for c in images.configs))
    await asyncio.gather(*(seeder.put(repository, c.digest, c) for c in images.children))
    await asyncio.gather(*(seeder.put(repository, t, images.top) for t in plan.tags_of(r, i)))


_Job = tuple[int, int | None]


async def _pool(
    jobs: Sequence[_Job],
    run: Callable[[_Job], Awaitable[None]],
    *,
    concurrency: int,
) -> None:
    """``concurrency`` workers draining the finite ``jobs``; progress every 10 s to stderr."""
    pending = list(reversed(jobs))
    total = len(jobs)
    next_report = time.monotonic() + 10

    async def worker() -> None:
        nonlocal next_report
        while pending:
            await run(pending.pop())
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + 10
                print(f"seeding: {total - len(pending)}/{total}", file=sys.stderr, flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _seed(plan: SeedPlan, base_url: str, *, concurrency: int) -> int:
    """Push the whole plan; answers the number of HTTP requests made."""
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        seeder = _BulkSeeder(base_url, session)
        first = {b.digest: b for r in range(plan.repositories) for b in layer_blobs(plan, r)}
        for blob in first.values():
            await seeder.upload_new(_LAYER_SOURCE, blob)
        # Layers go first: a manifest is refused while its blobs are missing from the repo.
        await _pool(
            [(r, None) for r in range(plan.repositories)],
            lambda job: _push(seeder, plan, *job),
            concurrency=concurrency,
        )
        await _pool(
            [(r, i) for i in range(plan.builds) for r in range(plan.repositories)],
            lambda job: _push(seeder, plan, *job),
            concurrency=concurrency,
        )
        return seeder.requests


def stamp_matches(workdir: Path, plan: SeedPlan) -> bool:
    path = workdir / _STAMP
    if not path.is_file() or not (workdir / "data").is_dir():
        return False
    try:
        stamp = json.loads(path.read_text())
    except ValueError:
        return False
    return isinstance(stamp, dict) and stamp.get("plan") == plan.stamp()


def ensure_seeded(
    workdir: Path, plan: SeedPlan, *, reseed: bool = False, concurrency: int = 32
) -> dict[str, object]:
    """Seed ``workdir`` (a LocalRegistry storage) unless its stamp already matches ``plan``;
    answers the stamp (with ``reused`` telling which happened)."""
    if not reseed and stamp_matches(workdir, plan):
        kept: dict[str, object] = json.loads((workdir / _STAMP).read_text())
        return {**kept, "reused": True}
    (workdir / _STAMP).unlink(missing_ok=True)
    shutil.rmtree(workdir / "data", ignore_errors=True)
    with LocalRegistry(workdir) as registry:
        started = time.perf_counter()
        requests = asyncio.run(_seed(plan, registry.url, concurrency=concurrency))
        seconds = time.perf_counter() - started
    stamp: dict[str, object] = {
        "plan": plan.stamp(),
        "seconds": round(seconds, 2),
        "requests": requests,
        "tags": plan.total_tags,
        "tags_per_second": round(plan.total_tags / seconds, 1),
        "concurrency": concurrency,
        "seeded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (workdir / _STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    return {**stamp, "reused": False}
