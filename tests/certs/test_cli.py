"""`image-updater certs` as a Job runs it: one pass against the API emulator, then exit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig

BINARY = Path(sys.executable).with_name("image-updater")
MANIFESTS = Path(__file__).parents[2] / "manifests" / "base" / "webhook-configurations.yaml"
MILLISECONDS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def certs_once(api: KubeAPI, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        command = [str(BINARY), "certs", "--once", "--namespace", "argocd", "--logformat", "json"]
        return subprocess.run(
            [*command, "--kubeconfig", str(kubeconfig), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )


def installed() -> KubeAPI:
    api = KubeAPI()
    for document in yaml.safe_load_all(MANIFESTS.read_text()):
        api.store.put(document)
    return api


def configuration(api: KubeAPI, plural: str) -> dict[str, Any]:
    found = api.store.get("admissionregistration.k8s.io", None, plural, None, "image-updater")
    assert found is not None
    return dict(found)


def test_a_configuration_name_that_does_not_exist_exits_1_naming_it(tmp_path: Path) -> None:
    api = installed()
    done = certs_once(
        api,
        tmp_path,
        "--webhook-configuration",
        "image-updater",
        "--webhook-configuration",
        "image-updatr",
    )
    assert done.returncode == 1, done.stderr
    (line,) = [json.loads(text) for text in done.stderr.splitlines()]
    assert line["level"] == "error"
    assert "'image-updatr' not found" in line["msg"]
    assert "already current" not in done.stderr
    assert "Traceback" not in done.stderr
    assert MILLISECONDS_UTC.match(line["time"]), line["time"]
    # The configuration that does exist got no CA on the strength of a wrong list.
    validating = configuration(api, "validatingwebhookconfigurations")
    assert "caBundle" not in validating["webhooks"][0]["clientConfig"]


def test_existing_configurations_get_the_ca_and_a_second_run_says_already_current(
    tmp_path: Path,
) -> None:
    api = installed()
    first = certs_once(api, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "caBundle injected into: image-updater, image-updater" in first.stderr
    secret = api.store.get("", "v1", "secrets", "argocd", "image-updater-webhook-tls")
    assert secret is not None
    mutating = configuration(api, "mutatingwebhookconfigurations")
    # The bundle is the stored CA, base64 as the Secret holds it.
    assert mutating["webhooks"][0]["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
    second = certs_once(api, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "caBundle injected into: (already current)" in second.stderr
