"""`python -m devcluster kubeapi`: the emulator as a standalone server on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from imageupdater.errors import InvalidInput

from .kubeconfig import write_kubeconfig
from .running import serve_app
from .server import DEFAULT_CRDS, KubeAPI


def _service(text: str) -> tuple[tuple[str, str], str]:
    ref, sep, address = text.partition("=")
    namespace, slash, name = ref.partition("/")
    host, colon, port = address.rpartition(":")
    if not (sep and slash and namespace and name and colon and host and port.isdigit()):
        raise argparse.ArgumentTypeError(
            f"--service {text!r}: expected NAMESPACE/NAME=HOST:PORT, e.g. "
            "argocd/image-updater-webhook=127.0.0.1:9443"
        )
    return (namespace, name), address


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m devcluster kubeapi",
        description="Serve the Kubernetes API emulator on 127.0.0.1 until interrupted.",
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument(
        "--crds",
        type=Path,
        action="append",
        metavar="DIR",
        help=f"directory or file of CRD YAML, repeatable (default: {DEFAULT_CRDS})",
    )
    p.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for the server here")
    p.add_argument("--namespace", default="argocd", help="the kubeconfig's default namespace")
    p.add_argument(
        "--service",
        type=_service,
        action="append",
        default=[],
        metavar="NS/NAME=HOST:PORT",
        help="where a webhook clientConfig.service is reachable, repeatable",
    )
    return p


async def _serve(args: argparse.Namespace) -> None:
    api = KubeAPI(crds=args.crds or (DEFAULT_CRDS,), service_addresses=dict(args.service))
    runner, port = await serve_app(api, args.port)
    url = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.kubeconfig:
        write_kubeconfig(args.kubeconfig, url, args.namespace)
        print(f"kubeapi: wrote kubeconfig {args.kubeconfig}", flush=True)
    print(f"kubeapi: serving {url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser().error(f"--port {args.port}: expected 0 to 65535")
    try:
        asyncio.run(_serve(args))
    except (InvalidInput, OSError) as exc:
        print(f"kubeapi: {exc}", file=sys.stderr)
        return 2
    return 0
