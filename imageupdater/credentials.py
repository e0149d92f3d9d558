"""Credential references (``[<registry>=]<type>:<def>``) and the ``Credentials`` value.

This module owns the grammar upstream uses in the ``pull-secret`` annotation and in the
``credentials`` key of ``registries.conf``, and the username/password pair a reference
resolves to. It does no I/O: resolving a reference (reading the environment, running a
script, reading a Kubernetes secret) lives in ``imageupdater.credential_sources``.

Forms (the type is case-insensitive):

* ``pullsecret:<namespace>/<name>`` -- the ``.dockerconfigjson`` of a Kubernetes secret
* ``secret:<namespace>/<name>#<field>`` -- a secret field holding ``<username>:<password>``
* ``env:<VARIABLE>`` -- an environment variable holding ``<username>:<password>``
* ``ext:</absolute/path>`` -- a script printing ``<username>:<password>``

We reject what upstream rejects (empty parts, an unknown type, an empty registry prefix,
a ``:`` inside the definition) and, stricter than upstream, whitespace anywhere, a relative
``ext:`` path (upstream only notices when it runs the script) and stray ``/`` or ``#``.
"""

from __future__ import annotations

__all__ = [
    "ACCEPTED_FORMS",
    "OPERATOR_KINDS",
    "CredentialKind",
    "CredentialRef",
    "CredentialRules",
    "Credentials",
]

from dataclasses import dataclass, field
from typing import Literal, get_args

from imageupdater.errors import InvalidCredentialRef

CredentialKind = Literal["pullsecret", "secret", "env", "ext"]

_KINDS: tuple[CredentialKind, ...] = get_args(CredentialKind)

_FORMS: dict[CredentialKind, str] = {
    "pullsecret": "pullsecret:<namespace>/<name>",
    "secret": "secret:<namespace>/<name>#<field>",
    "env": "env:<VARIABLE>",
    "ext": "ext:</absolute/path>",
}

ACCEPTED_FORMS = ", ".join(_FORMS.values()) + ", each optionally prefixed by <registry>="

# Kinds that act with the updater's own authority: `env:` reads its environment (where
# registries.conf credentials live) and `ext:` runs a program on its image. Whoever can write
# an Application must not reach either, so they are the operator's alone unless the operator
# opts a namespace in.
OPERATOR_KINDS: frozenset[CredentialKind] = frozenset({"env", "ext"})


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """Where a registry username/password comes from; build it with ``CredentialRef.parse``.

    Only the fields of ``kind`` are set: ``namespace``/``name`` for ``pullsecret``,
    ``namespace``/``name``/``field`` for ``secret``, ``env_var`` for ``env``, ``path`` for ``ext``.
    """

    kind: CredentialKind
    namespace: str | None = None
    name: str | None = None
    field: str | None = None
    env_var: str | None = None
    path: str | None = None
    registry_prefix: str | None = None

    @classmethod
    def parse(cls, text: str, *, show_value: bool = True) -> CredentialRef:
        """Parse ``[<registry>=]<type>:<def>``; raise ``InvalidCredentialRef`` naming the problem.

        ``show_value=False`` keeps the text out of the message, for places (registries.conf)
        where a user may have pasted a password instead of a reference.
        """
        result = _parse(text)
        if isinstance(result, CredentialRef):
            return result
        reason, kind = result.reason, result.kind
        shown = f" {text!r}" if show_value else " (value not shown: it may be a secret)"
        expected = (
            f"{_FORMS[kind]} (optionally prefixed by <registry>=)"
            if kind is not None
            else f"one of {ACCEPTED_FORMS}"
        )
        raise InvalidCredentialRef(
            f"invalid credential reference{shown}: {reason}; expected {expected}"
        )

    @property
    def definition(self) -> str:
        """The part after ``<type>:``, e.g. ``argocd/regcred#creds``."""
        if self.kind == "pullsecret":
            return f"{self.namespace}/{self.name}"
        if self.kind == "secret":
            return f"{self.namespace}/{self.name}#{self.field}"
        if self.kind == "env":
            return f"{self.env_var}"
        return f"{self.path}"

    def __str__(self) -> str:
        prefix = f"{self.registry_prefix}=" if self.registry_prefix is not None else ""
        return f"{prefix}{self.kind}:{self.definition}"


@dataclass(frozen=True, slots=True)
class CredentialRules:
    """Which credential references an Application may make, as the operator configured it.

    By default an Application may name only ``pullsecret:``/``secret:`` references to
    Secrets of its own namespace. ``allow_cross_namespace_secrets`` lifts the namespace rule;
    ``env_ext_namespaces`` lists the namespaces whose Applications may also use ``env:`` and
    ``ext:``. The webhook, the reconciler and ``lint`` all ask this one value.
    """

    allow_cross_namespace_secrets: bool = False
    env_ext_namespaces: frozenset[str] = frozenset()

    def secret_scope(self, namespace: str | None) -> str | None:
        """The namespace Secret references must stay in; None when any is allowed."""
        return None if self.allow_cross_namespace_secrets else namespace or None

    def allows_operator_kinds(self, namespace: str | None) -> bool:
        return namespace is not None and namespace in self.env_ext_namespaces


@dataclass(frozen=True, slots=True)
class Credentials:
    """A registry username and password; the password never appears in ``repr`` or ``str``."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<redacted>)"

    __str__ = __repr__


# The reason strings below never quote parts of the text, so a message built with
# show_value=False cannot leak a pasted secret.
@dataclass(frozen=True, slots=True)
class _Failure:
    reason: str
    kind: CredentialKind | None = None


def _parse(text: str) -> CredentialRef | _Failure:
    if not text:
        return _Failure("the reference is empty")
    if any(ch.isspace() for ch in text):
        return _Failure("it must not contain whitespace")
    registry: str | None = None
    spec = text
    if "=" in text:
        registry, _, spec = text.partition("=")
        if not registry:
            return _Failure("the registry prefix before '=' is empty")
    type_text, colon, definition = spec.partition(":")
    if not colon:
        return _Failure("there is no ':' between the type and its definition")
    if not type_text:
        return _Failure("the type before ':' is empty")
    kind = next((k for k in _KINDS if k == type_text.lower()), None)
    if kind is None:
        return _Failure(f"the type is not one of {', '.join(_KINDS)}")
    if not definition:
        return _Failure(f"nothing follows '{kind}:'", kind)
    if ":" in definition:
        return _Failure(f"the definition after '{kind}:' must not contain ':'", kind)
    if kind == "secret":
        return _parse_secret(definition, registry)
    if kind == "pullsecret":
        return _parse_pullsecret(definition, registry)
    if kind == "env":
        return CredentialRef("env", env_var=definition, registry_prefix=registry)
    if not definition.startswith("/"):
        return _Failure("the script path must be absolute (start with '/')", "ext")
    return CredentialRef("ext", path=definition, registry_prefix=registry)


def _split_namespace_name(text: str, kind: CredentialKind) -> tuple[str, str] | _Failure:
    namespace, slash, name = text.partition("/")
    if not slash:
        return _Failure("there is no '/' between the namespace and the secret name", kind)
    if not namespace:
        return _Failure("the secret namespace is empty", kind)
    if not name:
        return _Failure("the secret name is empty", kind)
    if "/" in name:
        return _Failure("the secret name must not contain '/'", kind)
    return namespace, name


def _parse_secret(definition: str, registry: str | None) -> CredentialRef | _Failure:
    location, hash_sign, secret_field = definition.partition("#")
    if not hash_sign:
        return _Failure("there is no '#<field>' after the secret name", "secret")
    if not secret_field:
        return _Failure("the secret field after '#' is empty", "secret")
    if "#" in secret_field:
        return _Failure("the secret field must not contain '#'", "secret")
    parts = _split_namespace_name(location, "secret")
    if isinstance(parts, _Failure):
        return parts
    namespace, name = parts
    return CredentialRef(
        "secret", namespace=namespace, name=name, field=secret_field, registry_prefix=registry
    )


def _parse_pullsecret(definition: str, registry: str | None) -> CredentialRef | _Failure:
    if "#" in definition:
        return _Failure(
            "a pull secret takes no '#<field>' (it always reads .dockerconfigjson)", "pullsecret"
        )
    parts = _split_namespace_name(definition, "pullsecret")
    if isinstance(parts, _Failure):
        return parts
    namespace, name = parts
    return CredentialRef("pullsecret", namespace=namespace, name=name, registry_prefix=registry)
