"""`python -m devcluster kubeapi`: a standalone emulator on 127.0.0.1 with a kubeconfig."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml


def test_the_standalone_server_serves_writes_a_kubeconfig_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devcluster",
            "kubeapi",
            "--port",
            "0",
            "--crds",
            "devcluster/crds",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        url = lines[1].removeprefix("kubeapi: serving ")
        raw = subprocess.run(
            ["kubectl", "get", "--raw", "/apis/argoproj.io/v1alpha1"],
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(tmp_path),
                "KUBECONFIG": str(kubeconfig),
                "KUBECACHEDIR": str(tmp_path / "cache"),
            },
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        resources = json.loads(raw.stdout)["resources"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert lines[0] == f"kubeapi: wrote kubeconfig {kubeconfig}"
    assert url.startswith("http://127.0.0.1:")
    assert {r["name"] for r in resources} == {"applications", "appprojects"}
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == url
    assert config["contexts"][0]["context"]["namespace"] == "argocd"
    assert proc.returncode == 0, err


def test_a_malformed_service_mapping_is_a_usage_error_naming_the_format() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devcluster", "kubeapi", "--service", "argocd-webhook:443"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "--service 'argocd-webhook:443': expected NAMESPACE/NAME=HOST:PORT" in done.stderr


def test_an_unknown_subcommand_lists_the_known_ones() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devcluster", "frobnicate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown subcommand 'frobnicate'" in done.stderr
    assert "kubeapi" in done.stderr
