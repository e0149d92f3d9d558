"""Starting the install's components as the cluster would: from their Deployments.

A component's command is its container's ``args`` with the environment its ``env`` asks
for (ConfigMap and Secret keys read from the API emulator's store, ``fieldRef`` to the
namespace), ``$(VAR)`` references expanded as the kubelet expands them, the volumes it
mounts laid out in a directory (ConfigMap items as files), and the pod's ServiceAccount
token in its kubeconfig. What a laptop needs on top (ports on 127.0.0.1, the mount points
moved under the test's directory) is added explicitly and only that.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devcluster.kubeapi import KubeAPI, write_kubeconfig

ROOT = Path(__file__).resolve().parents[1]
BINARY = Path(sys.executable).with_name("image-updater")
NAMESPACE = "argocd"
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "manifests" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def install_docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / "manifests" / "install.yaml").read_text()) if d]


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@dataclass
class Component:
    """One container of a Deployment, ready to start on this machine."""

    name: str
    argv: list[str]
    env: dict[str, str]
    mounts: dict[str, Path]  # container mountPath -> directory here
    service_account: str
    extra: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        return [str(BINARY), *self.argv, *self.extra]

    def start(self, log: Path) -> subprocess.Popen[str]:
        with log.open("w") as handle:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(
                self.command(),
                env={**os.environ, **self.env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )


def _decoded(secret: Mapping[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def component(
    api: KubeAPI,
    docs: Sequence[Mapping[str, Any]],
    deployment: str,
    workdir: Path,
    *,
    server_url: str,
) -> Component:
    """The container of ``deployment`` as this machine runs it, with the pod's token."""
    found = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment
    )
    pod = found["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        value = entry.get("value")
        source = entry.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            cm = api.store.get("", "v1", "configmaps", NAMESPACE, ref["name"]) or {}
            value = (cm.get("data") or {}).get(ref["key"])
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = api.store.get("", "v1", "secrets", NAMESPACE, ref["name"]) or {}
            value = _decoded(secret).get(ref["key"])
        elif "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "metadata.namespace"
            value = NAMESPACE
        if value is not None:  # an optional key that is absent leaves the variable unset
            env[entry["name"]] = _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), value)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts: dict[str, Path] = {}
    for mount in sorted(container.get("volumeMounts", []), key=lambda m: len(m["mountPath"])):
        directory = workdir / deployment / mount["mountPath"].strip("/")
        directory.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = directory
        _materialise(api, volumes[mount["name"]], directory)
    argv = [_VAR.sub(lambda m: env.get(m.group(1), m.group(0)), a) for a in container["args"]]
    argv = [_relocate(a, mounts) for a in argv]
    account = pod["serviceAccountName"]
    token = api.issue_token(NAMESPACE, account)
    kubeconfig = write_kubeconfig(workdir / f"{deployment}.kubeconfig", server_url, token=token)
    return Component(
        name=deployment,
        argv=argv,
        env=env,
        mounts=mounts,
        service_account=account,
        extra=["--kubeconfig", str(kubeconfig)],
    )


def _materialise(api: KubeAPI, volume: Mapping[str, Any], directory: Path) -> None:
    if "configMap" in volume:
        spec = volume["configMap"]
        cm = api.store.get("", "v1", "configmaps", NAMESPACE, spec["name"]) or {}
        data = cm.get("data") or {}
        items = spec.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            if item["key"] in data:
                (directory / item["path"]).write_text(data[item["key"]])
    elif "secret" in volume:
        secret = api.store.get("", "v1", "secrets", NAMESPACE, volume["secret"]["secretName"])
        for key, value in _decoded(secret or {}).items():
            (directory / key).write_text(value)


def _relocate(arg: str, mounts: Mapping[str, Path]) -> str:
    """A path inside a mount, moved to where that mount is laid out here."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if mount_path in arg:
            return arg.replace(mount_path, str(mounts[mount_path]))
    return arg
