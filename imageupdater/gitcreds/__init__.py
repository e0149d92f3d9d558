"""Finding the credentials of a GitOps repository for git write-back.

This package owns the two credential forms of ``write-back-method: git[:<credref>]``:

* ``repocreds`` (:func:`repository_credentials`) looks the repository up as Argo CD does:
  Secrets labelled ``argocd.argoproj.io/secret-type=repository`` in the Argo CD namespace
  whose ``url`` is the same URL after Argo CD's normalisation (:func:`normalize_repo_url`:
  case, surrounding space, one trailing ``.git``; ``git@host:x`` is ``ssh://git@host/x``; a
  trailing ``/`` or an explicit port is *not* ignored), preferring the Secret whose
  ``project`` is the Application's project over one without a project, and skipping Secrets
  scoped to another project. A repository Secret without credentials (or no Secret at all)
  takes them from the ``argocd.argoproj.io/secret-type=repo-creds`` template whose
  normalised ``url`` is the longest plain-text prefix of the repository's, filling only the
  fields the repository Secret leaves empty (``insecure`` is never inherited: templates
  have none).
* ``secret:<namespace>/<name>`` / ``secret:<name>`` (:func:`secret_credentials`) reads one
  Secret with upstream's fields; :func:`check_secret_namespace` applies the
  ``--allow-cross-namespace-secrets`` rule that pull secrets follow.

Deliberate differences from upstream:

* ``insecure`` defaults to off for ``secret:`` credentials too (upstream hard-codes TLS and
  host-key checking off for them); an ``insecure`` value that is not a boolean is an error.
* A repository Secret that matches but holds no credentials, with no template to fill them,
  means an anonymous repository (``GitCredentials.is_anonymous``): the operator registered it
  with Argo CD as public, and Argo CD itself clones it anonymously. Upstream refuses it; with
  nothing registered at all we refuse too, naming where we looked. An SSH URL is never
  anonymous.
* What one Secret holds must be complete and unambiguous: a username without a password, a
  GitHub App without its installation ID, a certificate without its key, an SSH URL without
  ``sshPrivateKey`` are errors naming the Secret and the field; credential kinds git
  write-back cannot use (bearer tokens, GCP and Azure keys) are named, not silently dropped.
* A password or app token is never sent over plain ``http://`` unless the Secret says
  ``insecure: "true"``.

Secrets stay out of messages: errors name the Secret, the field and what would be accepted,
never a value, and URLs are shown without their password. ``GitCredentials`` hides its
secrets from ``repr``. What the caller should report (a skipped project-scoped Secret, an
ambiguous match, ignored fields) is in ``GitCredentials.notes``; ``insecure`` is for the
caller to warn about itself.

Modules: ``value`` (``GitCredentials``), ``urls`` (Argo CD's URL comparison), ``fields`` (one
Secret's fields into credentials), ``lookup`` (the two lookups, the namespace rule, known
hosts; it reads only through the ``GitSecrets`` protocol) and ``reading`` (``GitSecrets`` and
``KubeGitSecrets``, its implementation over ``imageupdater.kube.KubeClient``).
"""

from __future__ import annotations

__all__ = [
    "ARGOCD_SSH_KNOWN_HOSTS_CONFIGMAP",
    "CONFIG_MAPS",
    "REPOSITORY_SELECTOR",
    "REPO_CREDS_SELECTOR",
    "SECRET_TYPE_LABEL",
    "SSH_KNOWN_HOSTS_KEY",
    "UPSTREAM_KNOWN_HOSTS_PATH",
    "GitCredentials",
    "GitSecrets",
    "KubeGitSecrets",
    "check_secret_namespace",
    "is_ssh_url",
    "normalize_repo_url",
    "repository_credentials",
    "same_repo_url",
    "secret_credentials",
    "ssh_known_hosts",
]

from imageupdater.gitcreds.lookup import (
    ARGOCD_SSH_KNOWN_HOSTS_CONFIGMAP,
    REPO_CREDS_SELECTOR,
    REPOSITORY_SELECTOR,
    SECRET_TYPE_LABEL,
    SSH_KNOWN_HOSTS_KEY,
    UPSTREAM_KNOWN_HOSTS_PATH,
    check_secret_namespace,
    repository_credentials,
    secret_credentials,
    ssh_known_hosts,
)
from imageupdater.gitcreds.reading import CONFIG_MAPS, GitSecrets, KubeGitSecrets
from imageupdater.gitcreds.urls import is_ssh_url, normalize_repo_url, same_repo_url
from imageupdater.gitcreds.value import GitCredentials
