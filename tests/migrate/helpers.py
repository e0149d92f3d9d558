"""Shared by the ``image-updater migrate`` tests: Applications, the annotation parse, the
command run in-process through its own ``register`` (before the entry point is installed),
and what an old CRD's API server stores of a resource."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
import yaml

from imageupdater.annotations import PREFIX
from imageupdater.annotations.keys import key_alias
from imageupdater.cli import _Parser
from imageupdater.cli.migrate_cmd import register
from imageupdater.credentials import CredentialRules
from imageupdater.policy import AppConfig
from imageupdater.review import parse_configuration

NAMESPACE = "argocd"
# env: and ext: references are the operator's unless a namespace is let in; these tests
# let NAMESPACE in where they say so.
OPERATOR_RULES = CredentialRules(env_ext_namespaces=frozenset({NAMESPACE}))


def annotations(pairs: Mapping[str, str]) -> dict[str, str]:
    return {PREFIX + key: value for key, value in pairs.items()}


def application(
    name: str,
    pairs: Mapping[str, str] | None = None,
    *,
    namespace: str | None = NAMESPACE,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if pairs is not None:
        metadata["annotations"] = annotations(pairs)
    if labels:
        metadata["labels"] = dict(labels)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/deploy.git", "path": name, "helm": {}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
        },
    }


def configured(
    pairs: Mapping[str, str],
    namespace: str | None = NAMESPACE,
    rules: CredentialRules = OPERATOR_RULES,
) -> AppConfig:
    """The AppConfig the annotations give, as the webhook parses them; no errors allowed."""
    result = parse_configuration(annotations(pairs), namespace, rules)
    assert not result.errors, result.errors
    assert result.config is not None
    return result.config


def same_but_aliases(got: AppConfig, wanted: AppConfig) -> bool:
    """Equal except for what migrate changes without changing any update: aliases it had to
    give (an alias written stays, with '/' as '_'; a missing one is made up), and
    pull-request labels without a provider, which have no effect, dropped."""
    if len(got.images) != len(wanted.images):
        return False
    for have, want in zip(got.images, wanted.images, strict=True):
        if want.alias is not None and have.alias != key_alias(want.alias):
            return False
        if have.alias is None:
            return False
        if replace(have, image=replace(have.image, alias=None)) != replace(
            want, image=replace(want.image, alias=None)
        ):
            return False
    write_back = wanted.write_back
    if write_back.pull_request is None:
        write_back = replace(write_back, pull_request_labels=())
    return got.write_back == write_back


def stored_by_old_crd(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource as upstream's v1.0-v1.3 CRD makes the API server store it: every
    commonUpdateSettings block present gets updateStrategy semver and forceUpdate false
    when it lacks them (no kubectl record of what was written)."""
    stored = copy.deepcopy(dict(resource))

    def default(block: dict[str, Any]) -> None:
        block.setdefault("updateStrategy", "semver")
        block.setdefault("forceUpdate", False)

    for ref in stored["spec"]["applicationRefs"]:
        if "commonUpdateSettings" in ref:
            default(ref["commonUpdateSettings"])
        for image in ref.get("images", ()):
            if "commonUpdateSettings" in image:
                default(image["commonUpdateSettings"])
    return stored


@dataclass(frozen=True, slots=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.out) if d is not None]

    def lines(self, text: str) -> list[str]:
        """The standard-error lines that contain ``text``."""
        return [line for line in self.err.splitlines() if text in line]


def parser() -> argparse.ArgumentParser:
    """``image-updater`` with only the migrate command, as the entry point will add it."""
    top = _Parser(prog="image-updater")
    subparsers = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    register(subparsers)
    return top


def migrate(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    """Run ``image-updater migrate ARGV`` in this process."""
    capsys.readouterr()
    try:
        args = parser().parse_args(["migrate", *argv])
        code = args.handler(args)
    except SystemExit as exc:  # a usage error, as argparse reports it
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)
