"""The ``GitCredentials`` value: what authenticates to one repository, secrets hidden from
``repr``."""

from __future__ import annotations

__all__ = ["GitCredentials"]

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GitCredentials:
    """How to authenticate to one git repository; build with the functions of this module.

    At most one kind is set: ``username``/``password`` (HTTPS), ``ssh_private_key`` (SSH),
    the ``github_app_*`` fields (HTTPS, a GitHub App installation token), or none (anonymous).
    ``tls_client_cert``/``tls_client_key`` (PEM) may accompany an HTTPS kind or stand alone.
    ``insecure`` turns TLS verification (HTTPS) or host-key checking (SSH) off: the caller
    reports it as a warning. ``source`` describes where the credentials came from, for
    messages; ``notes`` are things the caller should log.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)
    github_app_id: str | None = None
    github_app_installation_id: str | None = None
    github_app_private_key: str | None = field(default=None, repr=False)
    github_app_enterprise_base_url: str | None = None
    tls_client_cert: str | None = field(default=None, repr=False)
    tls_client_key: str | None = field(default=None, repr=False)
    insecure: bool = False
    proxy: str | None = field(default=None, repr=False)
    source: str = "no credentials"
    notes: tuple[str, ...] = ()

    @property
    def is_ssh(self) -> bool:
        return self.ssh_private_key is not None

    @property
    def is_github_app(self) -> bool:
        return self.github_app_private_key is not None

    @property
    def is_anonymous(self) -> bool:
        return (
            self.password is None
            and self.ssh_private_key is None
            and self.github_app_private_key is None
            and self.tls_client_cert is None
        )

    @property
    def kind(self) -> str:
        """What authenticates: ``ssh key``, ``github app``, ``password``, ``tls client
        certificate`` or ``anonymous``."""
        if self.is_ssh:
            return "ssh key"
        if self.is_github_app:
            return "github app"
        if self.password is not None:
            return "password"
        if self.tls_client_cert is not None:
            return "tls client certificate"
        return "anonymous"

    def __repr__(self) -> str:
        shown = [f"kind={self.kind!r}", f"source={self.source!r}"]
        if self.username is not None:
            shown.append(f"username={self.username!r}")
        if self.github_app_id is not None:
            shown.append(f"github_app_id={self.github_app_id!r}")
            shown.append(f"github_app_installation_id={self.github_app_installation_id!r}")
        if self.tls_client_cert is not None and self.kind != "tls client certificate":
            shown.append("tls_client_cert=<set>")
        if self.proxy is not None:
            shown.append("proxy=<set>")
        if self.insecure:
            shown.append("insecure=True")
        return f"GitCredentials({', '.join(shown)})"

    __str__ = __repr__
