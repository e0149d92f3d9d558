"""The Kubernetes API adapter: the API server over aiohttp, raw JSON in and out.

What callers use is here: :class:`KubeClient` (``connect``, the verbs, ``watch``,
``read_secret``), the :class:`Resource` constants, :class:`WatchEvent`, the Secret data
codecs and :func:`kubeconfig_problem`. The pieces:

* ``resources``: resource coordinates, watch events, patch content types, Secret data.
* ``locate``: which configuration (``--kubeconfig``, ``$KUBECONFIG``, the pod, the default).
* ``kubeconfig``: merging and reading kubeconfig files as kubectl does.
* ``incluster``: the pod's service account.
* ``settings``: what those two produce, one :class:`~.settings.Connection`.
* ``credentials``: tokens, token files re-read as they rotate, exec credential plugins.
* ``tls``, ``proxy``: the cluster's TLS contexts; the proxy, from the kubeconfig or the
  environment.
* ``client``: requests, error mapping (:func:`imageupdater.errors.kube_error`), watches
  (their bodies read by ``watchstream``).

No generated Kubernetes client: ``kubernetes_asyncio`` loads some 860 modules to import,
most of a ``run``'s start-up, for the handful of REST calls made here.
"""

from __future__ import annotations

__all__ = [
    "APPLICATIONS",
    "APPPROJECTS",
    "EVENTS",
    "JSON",
    "JSON_PATCH",
    "LEASES",
    "MERGE_PATCH",
    "MUTATING_WEBHOOKS",
    "SECRETS",
    "VALIDATING_WEBHOOKS",
    "KubeClient",
    "Resource",
    "ServiceAccount",
    "WatchEvent",
    "decode_secret_data",
    "encode_secret_data",
    "kubeconfig_problem",
]

from .client import KubeClient
from .incluster import ServiceAccount
from .locate import kubeconfig_problem
from .resources import (
    APPLICATIONS,
    APPPROJECTS,
    EVENTS,
    JSON,
    JSON_PATCH,
    LEASES,
    MERGE_PATCH,
    MUTATING_WEBHOOKS,
    SECRETS,
    VALIDATING_WEBHOOKS,
    Resource,
    WatchEvent,
    decode_secret_data,
    encode_secret_data,
)
