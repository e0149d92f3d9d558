"""``python -m devcluster demo``: Image Updater end to end on this machine, against real parts.

1. Starts Debian's ``docker-registry`` on 127.0.0.1 and seeds it with images over its HTTP
   API: semver tags with a prerelease, date-stamped builds, a multi-arch ``latest``.
2. Writes a ``registries.conf`` for it and runs ``image-updater test`` as a user would,
   once per strategy, printing each command and its answer.
3. Runs ``image-updater lint`` on an Application with a typo'd annotation and shows the
   finding.
4. Starts the Kubernetes API emulator, installs the webhook configurations from
   ``manifests/``, lets ``image-updater certs`` issue the TLS material and inject the CA,
   starts ``image-updater admission``, and applies Applications with the real ``kubectl``:
   a broken one is denied, a good one comes back with its image override set.
5. Pushes a newer image and runs ``image-updater run --once``: the reconciler patches the
   Application, and ``kubectl`` shows the new override and the ``ImagesUpdated`` Event.

Everything binds 127.0.0.1 and is stopped at the end (also on Ctrl-C).
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import asyncio
import datetime as dt
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.kubeapi.server import DEFAULT_CRDS
from devcluster.registry import LocalRegistry, free_port
from devcluster.seeder import ImageSeeder

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests" / "base"

_BASE = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def _say(text: str = "") -> None:
    print(text, flush=True)


async def _seed(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(url, session)
        semver_tags = ["1.25.0", "1.25.3", "1.26.0", "1.26.2", "1.27.0", "1.27.1", "1.28.0-rc.1"]
        for day, tag in enumerate(semver_tags):
            await seeder.push("demo/nginx", tag, created=_BASE + dt.timedelta(days=day))
        builds = ["main-20260105-a1b2c3", "main-20260112-d4e5f6", "main-20260119-0a1b2c"]
        for week, tag in enumerate(builds):
            # Creation dates out of alphabetical order, so newest-build and alphabetical differ.
            created = _BASE + dt.timedelta(days=[7, 14, 3][week])
            await seeder.push(
                "demo/api",
                tag,
                created=created,
                labels={"org.opencontainers.image.revision": tag[-6:]},
            )
        await seeder.push(
            "demo/api",
            "latest",
            created=_BASE + dt.timedelta(days=20),
            platforms=("linux/amd64", "linux/arm64/v8"),
            media="oci",
        )


def _run(binary: Path | str, args: Sequence[str | Path], env: dict[str, str]) -> int:
    name = "image-updater" if isinstance(binary, Path) else binary
    shown = " ".join(shlex.quote(str(a)) for a in [name, *args])
    shown = shown.replace(str(Path(tempfile.gettempdir())), "$TMP")
    _say(f"$ {shown}")
    done = subprocess.run(
        [str(binary), *args], env=env, capture_output=True, text=True, check=False
    )
    for line in (done.stdout + done.stderr).splitlines():
        _say(f"  {line}")
    _say(f"  (exit {done.returncode})")
    _say()
    return done.returncode


_BAD_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: web={host}/demo/nginx:~1.26
    argocd-image-updater.argoproj.io/web.update-stratgy: newest-build
    argocd-image-updater.argoproj.io/web.allow-tags: "regexp:^1\\\\.(26|27"
spec:
  project: default
  source: {{repoURL: "https://example.invalid/repo.git", path: guestbook, kustomize: {{}}}}
  destination: {{server: "https://kubernetes.default.svc", namespace: guestbook}}
"""


_TENANT_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: tenant
  namespace: team-a
  annotations:
    argocd-image-updater.argoproj.io/image-list: web={host}/demo/nginx:~1.26
    argocd-image-updater.argoproj.io/web.pull-secret: env:REGISTRY_CREDS
spec:
  project: default
  source: {{repoURL: "https://example.invalid/repo.git", path: tenant, kustomize: {{}}}}
  destination: {{server: "https://kubernetes.default.svc", namespace: tenant}}
"""


_GOOD_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: web={host}/demo/nginx:~1.26
spec:
  project: default
  source: {{repoURL: "https://example.invalid/repo.git", path: shop, kustomize: {{}}}}
  destination: {{server: "https://kubernetes.default.svc", namespace: shop}}
status:
  summary: {{images: ["{host}/demo/nginx:1.26.0"]}}
"""


def _wait_healthy(url: str, ca_file: Path, seconds: float = 20.0) -> bool:
    async def probe() -> bool:
        import ssl

        context = ssl.create_default_context(cafile=str(ca_file))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                try:
                    async with session.get(f"{url}/healthz", ssl=context) as resp:
                        if resp.status == 200:
                            return True
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        return False

    return asyncio.run(probe())


def _cluster_flow(
    work: Path, registry: LocalRegistry, conf: Path, binary: Path, env: dict[str, str]
) -> bool:
    port = free_port()
    # Argo CD's CRDs and ours (the update policies), as an install has them.
    api = KubeAPI(
        crds=(DEFAULT_CRDS, Path(__file__).resolve().parents[1] / "manifests" / "crds"),
        service_addresses={("argocd", "image-updater-webhook"): f"127.0.0.1:{port}"},
    )
    ok = True
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(work / "kubeconfig", running.url)
        kenv = {**env, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(work / "kcache")}
        _say(f"Kubernetes API emulator on {running.url} (kubectl talks to it via $KUBECONFIG)")
        _say()
        manifest = MANIFESTS / "webhook-configurations.yaml"
        ok &= _run("kubectl", ["apply", "--validate=false", "-f", manifest], kenv) == 0
        certs = work / "certs"
        ok &= (
            _run(
                binary,
                [
                    "certs",
                    "--once",
                    "--namespace",
                    "argocd",
                    "--ip-address",
                    "127.0.0.1",
                    "--cert-dir",
                    certs,
                    "--kubeconfig",
                    kubeconfig,
                    "--loglevel",
                    "warn",
                ],
                kenv,
            )
            == 0
        )
        log = (work / "webhook.log").open("w")
        webhook = subprocess.Popen(
            [
                str(binary),
                "admission",
                "--address",
                "127.0.0.1",
                "--port",
                str(port),
                "--tls-cert-file",
                str(certs / "tls.crt"),
                "--tls-key-file",
                str(certs / "tls.key"),
                "--registries-conf-path",
                str(conf),
                "--kubeconfig",
                str(kubeconfig),
            ],
            env=kenv,
            stdout=log,
            stderr=log,
        )
        try:
            if not _wait_healthy(f"https://127.0.0.1:{port}", certs / "ca.crt"):
                _say("the webhook did not become healthy; its log:")
                _say((work / "webhook.log").read_text())
                return False
            _say(f"$ image-updater admission --port {port} ...   (running; TLS from `certs`)")
            _say()
            _say(
                "== 4. kubectl apply: a mistake and a tenant's env: credentials are denied, "
                "a good Application gets its override"
            )
            bad = work / "bad.yaml"
            bad.write_text(_BAD_APP.format(host=registry.host))
            ok &= _run("kubectl", ["apply", "--validate=false", "-f", bad], kenv) != 0
            # A tenant may not borrow the updater's own credentials (docs/security.md).
            tenant = work / "tenant.yaml"
            tenant.write_text(_TENANT_APP.format(host=registry.host))
            ok &= _run("kubectl", ["apply", "--validate=false", "-f", tenant], kenv) != 0
            good = work / "shop.yaml"
            good.write_text(_GOOD_APP.format(host=registry.host))
            ok &= _run("kubectl", ["apply", "--validate=false", "-f", good], kenv) == 0
            images = [
                "get",
                "application",
                "shop",
                "-o",
                "jsonpath={.spec.source.kustomize.images}",
            ]
            ok &= _run("kubectl", images, kenv) == 0
            _say("== 5. a newer image appears; the reconciler catches up")
            asyncio.run(_push(registry.url, "demo/nginx", "1.26.9"))
            _say(f"pushed {registry.host}/demo/nginx:1.26.9")
            _say()
            ok &= (
                _run(
                    binary,
                    [
                        "run",
                        "--once",
                        "--kubeconfig",
                        kubeconfig,
                        "--registries-conf-path",
                        conf,
                        "--application-namespace",
                        "argocd",
                        "--loglevel",
                        "info",
                    ],
                    kenv,
                )
                == 0
            )
            ok &= _run("kubectl", images, kenv) == 0
            events = [
                "get",
                "events",
                "-n",
                "argocd",
                "-o",
                'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}',
            ]
            ok &= _run("kubectl", events, kenv) == 0
        finally:
            webhook.terminate()
            webhook.wait(timeout=10)
            log.close()
    return ok


async def _push(url: str, repository: str, tag: str) -> None:
    async with aiohttp.ClientSession() as session:
        await ImageSeeder(url, session).push(repository, tag, created=_BASE + dt.timedelta(days=30))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devcluster demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    binary = Path(sys.executable).with_name("image-updater")
    with tempfile.TemporaryDirectory(prefix="image-updater-demo-") as scratch:
        work = Path(scratch)
        _say("== 1. a real registry on 127.0.0.1, seeded over its HTTP API")
        with LocalRegistry(work / "registry") as registry:
            _say(f"docker-registry (distribution 2.8.2) listening on {registry.url}")
            asyncio.run(_seed(registry.url))
            _say(
                "pushed demo/nginx: 1.25.0 … 1.27.1 and 1.28.0-rc.1; demo/api: three dated "
                "builds and a two-platform OCI index 'latest'"
            )
            _say()
            conf = work / "registries.conf"
            conf.write_text(
                textwrap.dedent(
                    f"""\
                    registries:
                    - name: demo
                      prefix: {registry.host}
                      api_url: {registry.url}
                      limit: 50
                    """
                )
            )
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            common = ["--registries-conf-path", str(conf), "--loglevel", "warn"]
            host = registry.host
            _say("== 2. which tag would each policy choose? (image-updater test)")
            failures = 0
            for args in (
                ["test", f"{host}/demo/nginx", *common],
                ["test", f"{host}/demo/nginx:~1.26", *common],
                ["test", f"{host}/demo/nginx", "--semver-constraint", ">=1.0.0-0", *common],
                [
                    "test",
                    f"{host}/demo/api",
                    "--update-strategy",
                    "newest-build",
                    "--allow-tags",
                    "regexp:^main-",
                    *common,
                ],
                [
                    "test",
                    f"{host}/demo/api",
                    "--update-strategy",
                    "alphabetical",
                    "--ignore-tags",
                    "latest",
                    *common,
                ],
                [
                    "test",
                    f"{host}/demo/api:latest",
                    "--update-strategy",
                    "digest",
                    "--platforms",
                    "linux/arm64",
                    "--output",
                    "json",
                    *common,
                ],
            ):
                failures += _run(binary, args, env) != 0
            _say(
                "== 3. a mistake is loud: the same words `lint`, the webhook and the reconciler use"
            )
            app = work / "app.yaml"
            app.write_text(_BAD_APP.format(host=host))
            lint_exit = _run(binary, ["lint", str(app)], env)
            _run(
                binary, ["test", f"{host}/demo/nginx", "--update-strategy", "latests", *common], env
            )
            cluster_ok = _cluster_flow(work, registry, conf, binary, env)
        _say("registry, API emulator and webhook stopped; done.")
    return 0 if failures == 0 and lint_exit == 1 and cluster_ok else 1
