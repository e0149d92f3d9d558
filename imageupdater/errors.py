"""The one exception tree of Image Updater.

::

    ImageUpdaterError
    ├── InvalidInput                  permanent: bad annotations, flags, files — deny or skip
    │   ├── InvalidImageReference
    │   ├── InvalidConstraint
    │   ├── InvalidTagFilter
    │   ├── InvalidPlatform
    │   ├── InvalidStrategy
    │   ├── InvalidCredentialRef
    │   ├── InvalidRegistriesConf
    │   ├── InvalidKubeconfig
    │   └── InvalidAnnotations        carries every Problem found at once
    ├── CredentialError               a credential source failed (secret missing, script failed)
    └── RegistryError                 talking to a registry failed
        ├── RegistryUnavailable       transient: connection refused, timeout, 5xx
        ├── RateLimited               transient: 429, with the advised pause
        ├── RegistryAuthError         401/403 after the one permitted retry
        ├── RegistryNotFound          404: unknown repository or tag
        └── RegistryProtocolError     a malformed or oversized answer
    └── KubeError                     talking to the Kubernetes API failed
        ├── KubeUnavailable           transient: connection, timeout, 429, 5xx
        ├── KubeConflict              409: stale resourceVersion or already exists
        ├── KubeNotFound              404
        ├── KubeGone                  410: a watch resourceVersion is too old; relist
        ├── KubeForbidden             401/403: RBAC
        └── KubeInvalid               400/415/422: the request itself is wrong

``transient`` tells a caller whether retrying later can help. Messages never contain
credentials: adapters build them from URLs stripped of userinfo and from status codes.
"""

from __future__ import annotations

__all__ = [
    "CredentialError",
    "ImageUpdaterError",
    "InvalidAnnotations",
    "InvalidConstraint",
    "InvalidCredentialRef",
    "InvalidImageReference",
    "InvalidInput",
    "InvalidKubeconfig",
    "InvalidPlatform",
    "InvalidRegistriesConf",
    "InvalidStrategy",
    "InvalidTagFilter",
    "KubeConflict",
    "KubeError",
    "KubeForbidden",
    "KubeGone",
    "KubeInvalid",
    "KubeNotFound",
    "KubeUnavailable",
    "RateLimited",
    "RegistryAuthError",
    "RegistryError",
    "RegistryNotFound",
    "RegistryProtocolError",
    "RegistryUnavailable",
]

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from imageupdater.problems import Problem


class ImageUpdaterError(Exception):
    """Base of every error Image Updater raises on purpose."""

    transient: ClassVar[bool] = False


class InvalidInput(ImageUpdaterError):
    """User-supplied input is wrong; retrying will not help until the user fixes it."""


class InvalidImageReference(InvalidInput):
    pass


class InvalidConstraint(InvalidInput):
    pass


class InvalidTagFilter(InvalidInput):
    pass


class InvalidPlatform(InvalidInput):
    pass


class InvalidStrategy(InvalidInput):
    pass


class InvalidCredentialRef(InvalidInput):
    pass


class InvalidRegistriesConf(InvalidInput):
    pass


class InvalidKubeconfig(InvalidInput):
    """No usable cluster configuration: a missing or broken kubeconfig, no in-cluster account."""


class InvalidAnnotations(InvalidInput):
    """Every problem found in one Application's annotations, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class CredentialError(ImageUpdaterError):
    """A credential source could not deliver (missing secret, failing script, bad format)."""


class RegistryError(ImageUpdaterError):
    """A registry request failed. ``registry`` is the endpoint's host, never a URL with userinfo."""

    def __init__(self, message: str, *, registry: str = "") -> None:
        self.registry = registry
        super().__init__(message)


class RegistryUnavailable(RegistryError):
    transient = True


class RateLimited(RegistryError):
    transient = True

    def __init__(self, message: str, *, registry: str = "", retry_after: float = 0.0) -> None:
        self.retry_after = retry_after
        super().__init__(message, registry=registry)


class RegistryAuthError(RegistryError):
    pass


class RegistryNotFound(RegistryError):
    pass


class RegistryProtocolError(RegistryError):
    pass


class KubeError(ImageUpdaterError):
    """A Kubernetes API request failed; ``status`` is the HTTP status (0 for transport errors)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        self.status = status
        super().__init__(message)


class KubeUnavailable(KubeError):
    transient = True


class KubeConflict(KubeError):
    transient = True


class KubeNotFound(KubeError):
    pass


class KubeGone(KubeError):
    transient = True


class KubeForbidden(KubeError):
    pass


class KubeInvalid(KubeError):
    pass
