"""Benchmark (issue 13): the registry hot path.

Three measurements, each the median over ``--runs`` runs (default 10) in one process:

* ``resolve``: one semver policy over a repository of 20,000 tags (served by the in-process
  fault registry, tag list already cached): wall time of ``resolve()`` and the number of
  constraint evaluations (``Constraint.allows`` calls) and version parses it makes.
* ``construction``: a fresh ``RegistryClient`` opened, pinging three plain-``http``
  endpoints (one with a CA from ``tls_cert_dir``, one with ``ca_data``, one without any),
  closed: wall time, and the SSL contexts built (``ssl.create_default_context`` calls made
  after start-up; aiohttp builds its own two at import, before any client exists).
* ``requests``: manifest ``HEAD`` requests per second against a ``docker-registry`` process
  (``devcluster.registry.LocalRegistry``), ``--workers`` tasks each asking its own
  repository, the digest cache off (``digest_ttl=0``) so every call is a request.

The counters are taken from outside (wrapping ``Constraint.allows`` and
``ssl.create_default_context`` in this process), so the same script measures the code before
and after the change. Prints JSON. Usage::

    cd /work/main && .venv/bin/python bench/hotpath.py [--runs N] [--tags N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import platform
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from devcluster.faultregistry import FaultRegistry
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from devcluster.tls import TinyCA
from imageupdater.images import ImageRef
from imageupdater.platforms import Platform
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf, RegistryEndpoint
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.resolver import resolve
from imageupdater.versions import Constraint, Version

CONSTRAINT = ">=1.2.0, <40.0.0 || ~50.1"


def tag_names(count: int) -> list[str]:
    """Distinct tags: semver in several spellings, prereleases, builds, and non-versions."""
    tags: list[str] = []
    for i in range(count):
        major, minor, patch = i // 400, (i // 20) % 20, i % 20
        match i % 10:
            case 0:
                tags.append(f"v{major}.{minor}.{patch}")
            case 1:
                tags.append(f"{major}.{minor}.{patch}-rc.{i % 7}")
            case 2:
                tags.append(f"sha-{i:08x}")
            case 3:
                tags.append(f"{major}.{i}")
            case _:
                tags.append(f"{major}.{minor}.{patch}+b{i}")
    assert len(set(tags)) == count, "tag names must be distinct"
    return tags


@contextmanager
def counting(owner: Any, name: str, box: list[int]) -> Iterator[None]:
    """Count calls of ``owner.name`` (a function attribute) into ``box[0]``."""
    original = getattr(owner, name)
    is_classmethod = isinstance(owner.__dict__.get(name), classmethod)
    target = original.__func__ if is_classmethod else original

    @functools.wraps(target)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        box[0] += 1
        return target(*args, **kwargs)

    setattr(owner, name, classmethod(wrapper) if is_classmethod else wrapper)
    try:
        yield
    finally:
        setattr(owner, name, classmethod(target) if is_classmethod else original)


def median(values: list[float]) -> float:
    return statistics.median(values)


async def bench_resolve(runs: int, count: int) -> dict[str, Any]:
    fault = FaultRegistry()
    # One image, many tags pointing at it: only the names matter to a semver resolve.
    tags = tag_names(count)
    started = time.perf_counter()
    fault.add_tags("big", tags[:1])
    digest = fault.add_image("big", tags[0])
    with fault._lock:  # bench set-up: 20,000 aliases of one image
        for tag in tags:
            fault._repos["big"].tags[tag] = digest
    seeded = time.perf_counter() - started
    url = await fault.serve()
    host = url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: fault\n  prefix: {host}\n  api_url: {url}\n", source="bench"
    )
    policy = ImagePolicy(
        image=ImageRef.parse(f"{host}/big"),
        constraint=CONSTRAINT,
        platforms=(Platform("linux", "amd64"),),
    )
    walls: list[float] = []
    evaluations: list[int] = []
    parses: list[int] = []
    chosen: set[tuple[str | None, int]] = set()
    settings = ClientSettings(tls_cert_dir=None, tag_list_ttl=3600.0)
    try:
        async with RegistryClient(settings=settings) as client:
            await resolve(policy, client=client, conf=conf)  # fills the tag-list cache
            for _ in range(runs):
                allows, parsed = [0], [0]
                with counting(Constraint, "allows", allows), counting(Version, "parse", parsed):
                    t0 = time.perf_counter()
                    result = await resolve(policy, client=client, conf=conf, current_tag="v1.0.0")
                    walls.append(time.perf_counter() - t0)
                evaluations.append(allows[0])
                parses.append(parsed[0])
                chosen.add((result.tag, len(result.candidates)))
    finally:
        await fault.close()
    assert len(chosen) == 1, chosen
    chosen_tag, candidates = chosen.pop()
    return {
        "tags": count,
        "constraint": CONSTRAINT,
        "chosen": chosen_tag,
        "candidates": candidates,
        "wall_ms_median": round(median(walls) * 1000, 2),
        "wall_ms_runs": [round(w * 1000, 2) for w in walls],
        "constraint_evaluations_median": median([float(e) for e in evaluations]),
        "version_parses_median": median([float(p) for p in parses]),
        "seed_s": round(seeded, 2),
    }


async def bench_construction(runs: int) -> dict[str, Any]:
    faults = [FaultRegistry() for _ in range(3)]
    urls = [await f.serve() for f in faults]
    ca = TinyCA()
    with tempfile.TemporaryDirectory() as tmp:
        cert_dir = Path(tmp)
        (cert_dir / "127.0.0.1").write_bytes(ca.cert_pem)  # tls_cert_dir: a CA for this host
        endpoints = [
            RegistryEndpoint(name="a", api_url=urls[0]),  # tls_cert_dir gives it a CA file
            RegistryEndpoint(name="b", api_url=urls[1].replace("127.0.0.1", "localhost")),
            RegistryEndpoint(name="c", api_url=urls[2], ca_data=ca.cert_pem.decode()),
        ]
        settings = ClientSettings(tls_cert_dir=str(cert_dir))
        walls: list[float] = []
        built: list[int] = []
        own_counter: list[int] = []
        try:
            for _ in range(runs):
                made = [0]
                with counting(ssl, "create_default_context", made):
                    t0 = time.perf_counter()
                    client = RegistryClient(settings=settings)
                    async with client:
                        for endpoint in endpoints:
                            await client.ping(endpoint)
                    walls.append(time.perf_counter() - t0)
                built.append(made[0])
                transport = client._transport  # the new code has its own counter
                contexts = getattr(transport, "contexts", None)
                if contexts is not None:
                    own_counter.append(contexts.built)
        finally:
            for fault in faults:
                await fault.close()
    result: dict[str, Any] = {
        "endpoints": [e.api_url.split(":")[1].lstrip("/") for e in endpoints],
        "wall_ms_median": round(median(walls) * 1000, 2),
        "wall_ms_runs": [round(w * 1000, 2) for w in walls],
        "ssl_contexts_built_median": median([float(b) for b in built]),
    }
    if own_counter:
        result["transport_contexts_built_median"] = median([float(b) for b in own_counter])
    return result


async def bench_requests(runs: int, workers: int, per_worker: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, LocalRegistry(Path(tmp)) as registry:
        async with aiohttp.ClientSession() as session:
            seeder = ImageSeeder(registry.url, session)
            for w in range(workers):
                await seeder.push(f"bench/repo-{w}", "v1")
        endpoint = RegistryEndpoint(name="local", api_url=registry.url)
        settings = ClientSettings(tls_cert_dir=None, digest_ttl=0.0, max_concurrency=workers)
        rates: list[float] = []
        for _ in range(runs):
            async with RegistryClient(settings=settings) as client:
                await client.ping(endpoint)

                async def worker(index: int, client: RegistryClient = client) -> None:
                    for _ in range(per_worker):
                        await client.manifest_digest(endpoint, f"bench/repo-{index}", "v1")

                t0 = time.perf_counter()
                await asyncio.gather(*(worker(w) for w in range(workers)))
                wall = time.perf_counter() - t0
                heads = sum(
                    by_status.get("2xx", 0)
                    for by_kind in client.counters.snapshot()["requests"].values()
                    for kind, by_status in by_kind.items()
                    if kind == "manifest_head"
                )
            assert heads == workers * per_worker, heads
            rates.append(heads / wall)
    return {
        "workers": workers,
        "requests_per_run": workers * per_worker,
        "requests_per_s_median": round(median(rates), 1),
        "requests_per_s_runs": [round(r, 1) for r in rates],
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "runs": args.runs,
        "resolve": await bench_resolve(args.runs, args.tags),
        "construction": await bench_construction(args.runs),
        "requests": await bench_requests(args.runs, args.workers, args.per_worker),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tags", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--per-worker", type=int, default=250)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.runs < 10:
        parser.error("--runs must be at least 10 (medians over ten runs or more)")
    logging.basicConfig(level=logging.WARNING)
    report = asyncio.run(main_async(args))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
