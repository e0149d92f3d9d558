"""The flags that decide what a tenant's Application may reach: which credentials it may
name (``CredentialRules``: ``webhook``, ``run`` and ``lint``) and which registries the
updater contacts for it (``ReachabilityPolicy``: ``webhook`` and ``run``).

One definition, so the commands read the same words the same way: a tenant's Application is
judged identically at ``kubectl apply``, in the reconciler and in CI.
"""

from __future__ import annotations

__all__ = [
    "add_credential_rule_flags",
    "add_reachability_flags",
    "credential_rules",
    "reachability",
]

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import re2

from imageupdater.credentials import CredentialRules
from imageupdater.errors import InvalidInput

if TYPE_CHECKING:
    from imageupdater.registry.reachability import ReachabilityPolicy

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


def add_reachability_flags(add: Callable[..., Any]) -> None:
    add(
        "--allowed-registries",
        action="append",
        default=[],
        metavar="GLOBS",
        help="registry hosts (host or host:port, Go filepath.Match globs, comma-separated; "
        "repeatable) that image-list may name; registries.conf hosts are always allowed "
        "(default: any host outside --internal-networks)",
    )
    add(
        "--internal-networks",
        default=None,
        metavar="CIDRS",
        help="comma-separated networks tenant-named registries may not resolve to, besides "
        "loopback, link-local and unspecified, which are always refused; set the pod and "
        "service CIDRs ('' = none; default 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,"
        "100.64.0.0/10,fc00::/7)",
    )


def reachability(args: argparse.Namespace) -> ReachabilityPolicy:
    """The policy the flags ask for; raises ``InvalidInput`` naming a malformed value."""
    # Imported here: the registry package pulls in aiohttp, which `--help` should not wait for.
    from imageupdater.registry.reachability import ReachabilityPolicy

    return ReachabilityPolicy.from_flags(args.allowed_registries, args.internal_networks)
