"""Three ``image-updater run --shards 3`` processes sharing 300 Applications through shard
Leases in the API emulator, against the real local registry: each Application is patched
exactly once (counted in the emulator's request log), also when one process is SIGKILLed
mid-run and its shard is taken over."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry
from reconciler.shards import shard_of
from tests.reconciler.conftest import application
from tests.reconciler.test_cli import registries_conf, seed
from tests.waiting import wait_until

BINARY = Path(sys.executable).with_name("image-updater")
APPS = 300
SHARDS = 3
LEASE_DURATION = 3.0
RETRY_PERIOD = 0.5


@dataclass
class Fleet:
    api: KubeAPI
    image: str
    processes: list[subprocess.Popen[str]]

    def holders(self) -> list[str]:
        found = []
        for shard in range(SHARDS):
            lease = self.api.store.get(
                "coordination.k8s.io", "v1", "leases", "argocd", f"image-updater-shard-{shard}"
            )
            found.append(((lease or {}).get("spec") or {}).get("holderIdentity") or "")
        return found

    def patches(self) -> Counter[str]:
        return Counter(
            r.name
            for r in self.api.requests.records
            if r.verb == "patch" and r.resource == "applications" and r.status == 200
        )

    def updated(self) -> set[str]:
        done = set()
        for i in range(APPS):
            app = self.api.store.get("argoproj.io", None, "applications", "argocd", f"app-{i}")
            images = ((app or {}).get("spec", {}).get("source") or {}).get("kustomize", {})
            if images.get("images") == [f"{self.image}:1.2.0"]:
                done.add(f"app-{i}")
        return done

    def pid_of_holder(self, shard: int) -> int | None:
        holder = self.holders()[shard]
        return int(holder.rsplit("_", 1)[1]) if holder else None


@pytest.fixture
def fleet(tmp_path: Path, registry: LocalRegistry, unique_repo: str) -> Iterator[Fleet]:
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    api = KubeAPI()
    for i in range(APPS):
        api.store.put(application(f"app-{i}", {"image-list": image}, images=[f"{image}:1.0.0"]))
    conf = registries_conf(tmp_path, registry)
    with run_in_thread(api) as served:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", served.url)
        processes = [
            subprocess.Popen(
                [
                    *(str(BINARY), "run", "--kubeconfig", str(kubeconfig), "--interval", "1h"),
                    *("--registries-conf-path", str(conf), "--listen-address", "127.0.0.1"),
                    *("--health-port", "0", "--metrics-port", "0", "--disable-kube-events"),
                    *("--shards", str(SHARDS), "--leader-election-namespace", "argocd"),
                    *("--lease-duration", f"{LEASE_DURATION:g}s"),
                    *("--lease-renew-deadline", "2s", "--lease-retry-period", "500ms"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        try:
            yield Fleet(api, image, processes)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.communicate(timeout=20)


def _all_updated(fleet: Fleet) -> bool:
    for process in fleet.processes:
        if process.poll() not in (None, -signal.SIGKILL):
            output, _ = process.communicate()
            raise AssertionError(f"image-updater run exited {process.returncode}: {output}")
    return len(fleet.updated()) == APPS


def test_three_processes_update_each_of_300_applications_exactly_once(fleet: Fleet) -> None:
    wait_until(lambda: _all_updated(fleet), within=90, what="all 300 Applications updated")
    time.sleep(2 * RETRY_PERIOD)  # a second write would show by now
    patches = fleet.patches()
    assert sorted(patches) == sorted(f"app-{i}" for i in range(APPS))
    assert set(patches.values()) == {1}
    wait_until(
        lambda: len(set(fleet.holders()) - {""}) == SHARDS,
        within=10,
        what="each process holding one shard",
    )
    pids = {p.pid for p in fleet.processes}
    assert {fleet.pid_of_holder(shard) for shard in range(SHARDS)} == pids
    for process in fleet.processes:
        process.send_signal(signal.SIGTERM)
    for process in fleet.processes:
        process.communicate(timeout=20)
        assert process.returncode == 0
    assert fleet.holders() == [""] * SHARDS  # released on SIGTERM, for others at once


def test_a_process_killed_mid_run_has_its_shard_taken_over_and_nothing_written_twice(
    fleet: Fleet,
) -> None:
    def first_patched() -> str | None:
        patched = fleet.patches()
        return next(iter(patched), None)

    first = wait_until(first_patched, within=60, what="a first patch", interval=0.01)
    shard = shard_of(f"argocd/{first}", SHARDS)
    pid = fleet.pid_of_holder(shard)
    assert pid is not None
    victim = next(p for p in fleet.processes if p.pid == pid)
    victim.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    victim.wait(timeout=10)
    done_by_victim = sum(
        1 for name in fleet.patches() if shard_of(f"argocd/{name}", SHARDS) == shard
    )

    def taken_over() -> bool:
        holder = fleet.pid_of_holder(shard)
        return holder is not None and holder != pid

    wait_until(taken_over, within=LEASE_DURATION * 4, what="the shard taken over", interval=0.05)
    # Taken within a lease period of the last renewal (plus a tick and some start-up slack).
    assert time.monotonic() - killed_at <= LEASE_DURATION + 3 * RETRY_PERIOD + 1.0
    wait_until(lambda: _all_updated(fleet), within=90, what="all 300 Applications updated")
    time.sleep(2 * RETRY_PERIOD)
    patches = fleet.patches()
    assert sorted(patches) == sorted(f"app-{i}" for i in range(APPS))
    assert set(patches.values()) == {1}, {n: c for n, c in patches.items() if c > 1}
    # Meaningful only if the victim was cut off mid-run: the rest of its shard was written
    # by the replica that took the shard over.
    in_shard = sum(1 for i in range(APPS) if shard_of(f"argocd/app-{i}", SHARDS) == shard)
    assert done_by_victim < in_shard, (done_by_victim, in_shard)
