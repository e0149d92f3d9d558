"""The work of ``image-updater hold`` / ``release``: read the Application, check the alias,
send the merge patch (built by :mod:`imageupdater.updatepolicy.holds`).

Exit codes as every command: 0 done (also for releasing what was not held), 2 invalid
input (a missing Application, an alias the image list lacks, a bad kubeconfig), 1 the API
server could not be reached or refused the change.
"""

from __future__ import annotations

__all__ = ["run_hold", "run_release"]

import argparse
import asyncio
import sys
from typing import Any

from imageupdater import kube
from imageupdater.annotations import PREFIX, parse
from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.errors import ImageUpdaterError, InvalidInput, KubeNotFound
from imageupdater.review import our_annotations
from imageupdater.updatepolicy.holds import hold_key, hold_patch, parse_holds, release_patch


def run_hold(args: argparse.Namespace) -> int:
    return _run("hold", args)


def run_release(args: argparse.Namespace) -> int:
    return _run("release", args)


def _run(command: str, args: argparse.Namespace) -> int:
    try:
        message = asyncio.run(_change(command, args))
    except InvalidInput as exc:
        print(f"image-updater {command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ImageUpdaterError as exc:
        print(f"image-updater {command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(message)
    return EXIT_OK


async def _change(command: str, args: argparse.Namespace) -> str:
    alias: str | None = args.alias or None
    key = hold_key(alias)  # refuses an alias no annotation key can carry, before any request
    target = f"application {args.namespace}/{args.application}"
    what = f"image {alias!r} of {target}" if alias else target
    async with await kube.KubeClient.connect(args.kubeconfig, context=args.context) as client:
        try:
            app = await client.get(kube.APPLICATIONS, args.namespace, args.application)
        except KubeNotFound:
            raise InvalidInput(f"{target} not found") from None
        annotations = _annotations(app)
        if alias is not None:
            _check_alias(alias, app)
        held = parse_holds(annotations).holds
        if command == "hold":
            patch = hold_patch(alias, args.reason)
            await client.patch(kube.APPLICATIONS, args.namespace, args.application, patch)
            before = annotations.get(key)
            if isinstance(before, str) and before.strip():
                return f"{what} was already held ({before.strip()!r}); the reason is now updated"
            return f"{what} is held: {args.reason.strip()}"
        if key not in annotations:
            if alias is not None and held.app is not None:
                return (
                    f"{what} has no hold of its own; the whole Application is held "
                    f"({held.app!r}): release it without --alias"
                )
            return f"{what} is not held; nothing changed"
        await client.patch(
            kube.APPLICATIONS, args.namespace, args.application, release_patch(alias)
        )
        still = f" (the whole Application stays held: {held.app!r})" if alias and held.app else ""
        return f"{what} is released{still}"


def _annotations(app: dict[str, Any]) -> dict[str, Any]:
    metadata = app.get("metadata")
    raw = metadata.get("annotations") if isinstance(metadata, dict) else None
    return dict(raw) if isinstance(raw, dict) else {}


def _check_alias(alias: str, app: dict[str, Any]) -> None:
    """The alias must be one the image list names, so a typo cannot hold nothing."""
    ours = our_annotations(app)
    if not ours:
        raise InvalidInput(
            f"--alias {alias}: the Application has no {PREFIX}* annotations, so no image has "
            "an alias; hold the whole Application instead (leave out --alias)"
        )
    config = parse(ours, operator_credentials=True).config
    if config is None:
        return  # an image list with mistakes: the alias cannot be checked, the hold still holds
    aliases = sorted(p.alias for p in config.images if p.alias)
    if alias not in aliases:
        listed = ", ".join(aliases) or "none (the image list has no aliases)"
        raise InvalidInput(f"--alias {alias}: the image list names no such alias; it has {listed}")
