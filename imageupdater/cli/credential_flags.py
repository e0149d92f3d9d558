"""The flags that set ``CredentialRules``, shared by ``webhook``, ``run`` and ``lint``.

One definition, so the three commands read the same words the same way: a tenant's
Application is judged identically at ``kubectl apply``, in the reconciler and in CI.
"""

from __future__ import annotations

__all__ = ["add_credential_rule_flags", "credential_rules"]

import argparse
from collections.abc import Callable
from typing import Any

import re2

from imageupdater.credentials import CredentialRules
from imageupdater.errors import InvalidInput

_NAMESPACE = re2.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def add_credential_rule_flags(add: Callable[..., Any]) -> None:
    add(
        "--allow-cross-namespace-secrets",
        action="store_true",
        help="accept pull-secret and git secret references outside the Application's namespace",
    )
    add(
        "--allow-env-ext-credentials",
        action="append",
        default=[],
        metavar="NAMESPACE",
        help="let Applications in NAMESPACE use env: and ext: credential references, which "
        "read this process's environment and run programs on its image (by default only "
        "registries.conf may); repeatable or comma-separated",
    )


def credential_rules(args: argparse.Namespace) -> CredentialRules:
    """The rules the flags ask for; raises ``InvalidInput`` naming a malformed namespace."""
    namespaces: set[str] = set()
    for value in args.allow_env_ext_credentials:
        for name in value.split(","):
            name = name.strip()
            if not _NAMESPACE.fullmatch(name):
                raise InvalidInput(
                    f"--allow-env-ext-credentials: {name!r} is not a namespace name "
                    "(lower-case letters, digits and '-', at most 63 characters)"
                )
            namespaces.add(name)
    return CredentialRules(
        allow_cross_namespace_secrets=args.allow_cross_namespace_secrets,
        env_ext_namespaces=frozenset(namespaces),
    )
