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
    │   ├── InvalidAnnotations        carries every Problem found at once
    │   └── InvalidPushEvent          a registry push notification refused (``reason``)
    ├── CredentialError               a credential source failed (secret missing, script failed)
    └── RegistryError                 talking to a registry failed
        ├── RegistryUnavailable       transient: connection refused, timeout, 5xx
        ├── RegistryRefused           the reachability policy forbids the address or host
        │   └── (transport._Denied)   also an OSError: how the resolver tells aiohttp
        ├── RateLimited               transient: 429, with the advised pause
        ├── RegistryAuthError         401/403 after the one permitted retry
        │   └── (requester._Refused)  a token refusal that one fresh-credential retry may cure
        ├── RegistryNotFound          404: unknown repository or tag
        └── RegistryProtocolError     a malformed or oversized answer
    ├── KubeError                     the Kubernetes API or argocd-server failed
        ├── KubeUnavailable           transient: connection, timeout, 408, 429, 5xx
        ├── KubeConflict              transient: 409, a stale resourceVersion or already exists
        ├── KubeNotFound              404
        ├── KubeGone                  transient: 410, a watch resourceVersion is too old; relist
        ├── KubeForbidden             401/403: authentication or RBAC
        └── KubeInvalid               400, 415, 422 and any other 4xx: the request itself is wrong
    ├── GitError                      a git operation against a GitOps repository failed
    │   ├── GitUnavailable            transient: connection refused, timeout, 5xx
    │   ├── GitAuthError              credentials refused, host key or TLS verification failed
    │   ├── GitPushRejected           a push was refused; ``non_fast_forward`` says whether a
    │   │                             fetch-and-retry can help (else: hook, protection, lease)
    │   └── GitRefNotFound            the branch or repository does not exist
    ├── WriteBackTargetError          permanent: a target file cannot be written (escapes the
    │                                 repository, wrong YAML shape, missing kustomization)
    ├── TemplateError                 permanent: a commit or branch template does not parse or
    │                                 render; ``line``/``column`` locate it
    ├── SCMError                      the GitHub or GitLab API failed (pull requests, app tokens)
    └── SignatureRejected             a candidate's cosign signature is missing or does not
                                      verify with the configured key: the image is not written

``transient`` tells a caller whether retrying later can help: the reconciler's
``RepositoryBackoff.failed(..., permanent=not exc.transient)`` pauses a repository for its
longest pause after a permanent registry error (401/403, 404, a refused or malformed answer)
and exponentially longer after each transient one. Messages never contain
credentials: adapters build them from URLs stripped of userinfo and from status codes.
The two names in parentheses are private to their registry module: signals that module
turns into (or re-raises as) their public parent; catch the parent.
:func:`kube_error` is the one status-to-error table of the Kubernetes and Argo CD adapters.
``public_message`` is what may be shown to whoever wrote the input (admission warnings,
Events): for registry errors it hides how a connection failed, so a tenant-named host
cannot be used to scan ports; ``str(exc)`` keeps the detail for the operator's log.
"""

from __future__ import annotations

__all__ = [
    "CredentialError",
    "GitAuthError",
    "GitError",
    "GitPushRejected",
    "GitRefNotFound",
    "GitUnavailable",
    "ImageUpdaterError",
    "InvalidAnnotations",
    "InvalidConstraint",
    "InvalidCredentialRef",
    "InvalidImageReference",
    "InvalidInput",
    "InvalidKubeconfig",
    "InvalidPlatform",
    "InvalidPushEvent",
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
    "RegistryRefused",
    "RegistryUnavailable",
    "SCMError",
    "SignatureRejected",
    "TemplateError",
    "WriteBackTargetError",
    "kube_error",
]

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from imageupdater.problems import Problem


class ImageUpdaterError(Exception):
    """Base of every error Image Updater raises on purpose."""

    transient: ClassVar[bool] = False

    @property
    def public_message(self) -> str:
        """The message for the author of the input (a tenant); ``str(self)`` unless a
        subclass must hide detail."""
        return str(self)


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


class InvalidPushEvent(InvalidInput):
    """A registry push notification the receiver refuses: not authenticated, not a push
    it understands, or malformed. ``reason`` is a short fixed word (a metric label);
    ``status`` the HTTP status the receiver answers. The message never quotes a secret."""

    def __init__(self, message: str, *, reason: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class CredentialError(ImageUpdaterError):
    """A credential source could not deliver (missing secret, failing script, bad format).

    ``public`` overrides the tenant-facing message: the operator's registries.conf
    credentials are the operator's business, not a tenant's to read about.
    """

    def __init__(self, message: str, *, public: str | None = None) -> None:
        self._public = public
        super().__init__(message)

    @property
    def public_message(self) -> str:
        return self._public if self._public is not None else str(self)


class RegistryError(ImageUpdaterError):
    """A registry request failed. ``registry`` is the endpoint's host, never a URL with userinfo.

    ``public`` overrides the tenant-facing message; by default it is the message itself,
    except for the subclasses below that describe how a connection failed.
    """

    def __init__(self, message: str, *, registry: str = "", public: str | None = None) -> None:
        self.registry = registry
        self._public = public
        super().__init__(message)

    @property
    def public_message(self) -> str:
        return self._public if self._public is not None else str(self)

    def _unreachable(self) -> str:
        # Closed port, plaintext answer, TLS failure or policy refusal all read the same, so
        # a tenant naming host:port in image-list learns nothing about what listens there.
        if self._public is not None:
            return self._public
        return f"registry {self.registry} unreachable" if self.registry else str(self)


class RegistryUnavailable(RegistryError):
    transient = True

    @property
    def public_message(self) -> str:
        return self._unreachable()


class RegistryRefused(RegistryError):
    """The operator's reachability policy forbids this registry or the address it resolves to."""

    @property
    def public_message(self) -> str:
        return self._unreachable()


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
    """A malformed answer. Publicly "unreachable" unless the raiser passes ``public``: an
    answer that is not a registry's tells a tenant what listens on a port."""

    @property
    def public_message(self) -> str:
        return self._unreachable()


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


# The status-to-error table that the Kubernetes adapter (kube.py) and the Argo CD adapter
# (argocd.py, whose grpc-gateway speaks the same HTTP statuses) share; each words its own
# message and may special-case an answer first (argocd-server's "too many conflicts" 500).
_KUBE_STATUS: dict[int, type[KubeError]] = {
    401: KubeForbidden,
    403: KubeForbidden,
    404: KubeNotFound,
    408: KubeUnavailable,
    409: KubeConflict,
    410: KubeGone,
    429: KubeUnavailable,
}


def kube_error(status: int, message: str) -> KubeError:
    """The error for an API server's answer with HTTP ``status`` (0: none, a transport failure).

    Listed 4xx as in the table above; any other 4xx is :class:`KubeInvalid` (the request
    itself is wrong, so retrying it unchanged cannot help); 5xx, 3xx and no status at all
    are :class:`KubeUnavailable`.
    """
    kind = _KUBE_STATUS.get(status)
    if kind is None:
        kind = KubeInvalid if 400 <= status < 500 else KubeUnavailable
    return kind(message, status=status)


class GitError(ImageUpdaterError):
    """A git operation failed. ``repository`` is the URL without userinfo; messages carry
    git's own words with anything credential-like removed, never a token or key."""

    def __init__(self, message: str, *, repository: str = "") -> None:
        self.repository = repository
        super().__init__(message)


class GitUnavailable(GitError):
    transient = True


class GitAuthError(GitError):
    """Credentials were refused, or the server's host key / TLS certificate did not verify."""


class GitPushRejected(GitError):
    """The remote refused a push. ``non_fast_forward``: someone else moved the branch, so
    fetching and re-applying can succeed; otherwise (a hook, a protected branch, a stale
    lease) retrying the same push cannot."""

    def __init__(self, message: str, *, repository: str = "", non_fast_forward: bool) -> None:
        self.non_fast_forward = non_fast_forward
        super().__init__(message, repository=repository)

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return self.non_fast_forward


class GitRefNotFound(GitError):
    """The repository or branch does not exist on the remote."""


class WriteBackTargetError(InvalidInput):
    """A write-back target cannot be written as asked: the path leaves the repository, the
    file has a shape the edit cannot apply to, or a kustomization is missing."""


class TemplateError(InvalidInput):
    """A commit-message or branch template does not parse or cannot be rendered.

    ``line`` and ``column`` (1-based, 0 when unknown) locate the problem in the template."""

    def __init__(self, message: str, *, line: int = 0, column: int = 0) -> None:
        self.line = line
        self.column = column
        super().__init__(message)


class SCMError(ImageUpdaterError):
    """A call to GitHub's or GitLab's API failed; ``status`` is the HTTP status (0: none)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        self.status = status
        super().__init__(message)

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return self.status == 0 or self.status == 429 or self.status >= 500


class SignatureRejected(ImageUpdaterError):
    """The chosen candidate of an image that must be signed is not (``verdict``: ``unsigned``
    or ``bad_signature``); the image keeps its version until a signed one is chosen."""

    def __init__(self, message: str, *, verdict: str) -> None:
        self.verdict = verdict
        super().__init__(message)
