"""`image-updater run` as a user starts it: flags, environment, probes, once, clean stop."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry, free_port
from devcluster.seeder import ImageSeeder
from tests.reconciler.conftest import application
from tests.waiting import wait_until

BINARY = Path(sys.executable).with_name("image-updater")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BINARY), "run", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        pytest.param(["--interval", "soon"], {}, "'soon'", id="bad-interval"),
        pytest.param(
            [], {"IMAGE_UPDATER_INTERVAL": "5 minutes"}, "'5 minutes'", id="bad-env-interval"
        ),
        pytest.param([], {"MAX_CONCURRENCY": "0"}, "MAX_CONCURRENCY='0'", id="bad-env-concurrency"),
        pytest.param(
            ["--applications-api", "argocd"],
            {"ARGOCD_SERVER": ""},
            "--argocd-server-addr",
            id="argocd-without-server",
        ),
        pytest.param(
            [], {"ARGOCD_INSECURE": "maybe"}, "ARGOCD_INSECURE='maybe'", id="bad-env-bool"
        ),
        pytest.param(
            ["--registries-conf-path", "/nonexistent/registries.conf"],
            {},
            "registries",
            id="missing-registries-conf",
        ),
    ],
)
def test_invalid_settings_exit_2_with_one_line(
    args: list[str], env: dict[str, str], expected: str
) -> None:
    done = run(*args, env=env)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


async def seed(registry: LocalRegistry, repo: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(registry.url, session)
        for day, tag in enumerate(["1.0.0", "1.2.0"]):
            await seeder.push(repo, tag, created=dt.datetime(2026, 1, 1 + day, tzinfo=dt.UTC))


def registries_conf(tmp_path: Path, registry: LocalRegistry) -> Path:
    path = tmp_path / "registries.conf"
    path.write_text(
        f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
    )
    return path


def test_once_updates_and_exits(tmp_path: Path, registry: LocalRegistry, unique_repo: str) -> None:
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    api = KubeAPI()
    api.store.put(application("app", {"image-list": image}, images=[f"{image}:1.0.0"]))
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        done = run(
            "--once",
            "--kubeconfig",
            str(kubeconfig),
            "--registries-conf-path",
            str(registries_conf(tmp_path, registry)),
        )
    assert done.returncode == 0, done.stderr
    summary = "Processing results: applications=1 images_considered=1 images_skipped=0"
    assert f"{summary} images_updated=1 errors=0" in done.stderr
    stored = api.store.get("argoproj.io", None, "applications", "argocd", "app")
    assert stored is not None
    assert stored["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.2.0"]


def test_a_running_reconciler_serves_probes_and_metrics_and_stops_cleanly(
    tmp_path: Path, registry: LocalRegistry, unique_repo: str
) -> None:
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    api = KubeAPI()
    api.store.put(application("app", {"image-list": image}, images=[f"{image}:1.0.0"]))
    health, metrics = free_port(), free_port()
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        process = subprocess.Popen(
            [
                str(BINARY),
                "run",
                "--kubeconfig",
                str(kubeconfig),
                "--interval",
                "1h",
                "--registries-conf-path",
                str(registries_conf(tmp_path, registry)),
                "--listen-address",
                "127.0.0.1",
                "--health-port",
                str(health),
                "--metrics-port",
                str(metrics),
                "--leader-election",
                "--leader-election-namespace",
                "argocd",
                "--logformat",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            updated = (
                'argocd_image_updater_images_updated_total{application="argocd/app",'
                'image_updater_cr_name="",image_updater_cr_namespace=""} 1.0'
            )

            def scrape_once_updated() -> str | None:
                with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz") as r:
                    assert r.read() == b"ok"
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics") as r:
                    scraped = str(r.read().decode())
                # The cycle's duration is observed in the same step that logs its summary,
                # so once it is counted, stopping the process loses no line asserted below.
                finished = "image_updater_cycle_duration_seconds_count" in scraped
                return scraped if updated in scraped and finished else None

            scraped = wait_until(
                scrape_once_updated,
                within=30,
                what="the reconciler process to be ready and count the update in /metrics",
                ignoring=(OSError,),
            )
            assert (
                'argocd_image_updater_applications_watched_total{image_updater_cr_name="",'
                'image_updater_cr_namespace=""} 1.0'
            ) in scraped
            assert "image_updater_leader 1.0" in scraped
            assert 'argocd_image_updater_registry_requests_total{registry="127.0.0.1:' in scraped
            lease = api.store.get(
                "coordination.k8s.io", None, "leases", "argocd", "image-updater-leader"
            )
            assert lease is not None and lease["spec"]["holderIdentity"]
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert '"msg": "Processing results: applications=1' in output
    released = api.store.get(
        "coordination.k8s.io", None, "leases", "argocd", "image-updater-leader"
    )
    assert released is not None and released["spec"]["holderIdentity"] == ""


@pytest.mark.parametrize("command", ["run", "admission"])
@pytest.mark.parametrize(
    ("variable", "value"),
    [("IMAGE_UPDATER_LOGLEVEL", "verbose"), ("IMAGE_UPDATER_LOGFORMAT", "yaml")],
)
def test_a_bad_log_setting_from_the_environment_stops_the_command_at_start(
    command: str, variable: str, value: str
) -> None:
    done = subprocess.run(
        [str(BINARY), command],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, variable: value},
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{variable}={value!r}" in done.stderr
    assert "Traceback" not in done.stderr


def test_once_exits_1_naming_the_applications_that_could_not_be_updated(
    tmp_path: Path, registry: LocalRegistry, unique_repo: str
) -> None:
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    api = KubeAPI()
    api.store.put(application("good", {"image-list": image}, images=[f"{image}:1.0.0"]))
    missing = f"{registry.host}/{unique_repo}-missing"
    api.store.put(application("bad", {"image-list": missing}, images=[f"{missing}:1.0.0"]))
    api.store.put(application("typo", {"image-list": image, "update-stratgy": "semver"}))
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        done = run(
            "--once",
            "--kubeconfig",
            str(kubeconfig),
            "--registries-conf-path",
            str(registries_conf(tmp_path, registry)),
        )
    assert done.returncode == 1, done.stderr
    assert "2 application(s) could not be updated: argocd/bad, argocd/typo" in done.stderr
    assert "images_updated=1" in done.stderr
