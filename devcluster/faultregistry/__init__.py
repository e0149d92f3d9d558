"""A small in-memory v2 registry for what distribution 2.8.2 cannot do on demand.

It serves ``/v2/``, ``tags/list`` (with ``Link`` pagination honouring ``n``/``last``, or
endless pagination), manifests by tag or digest (GET/HEAD, ``Docker-Content-Digest``) and
blobs, in the JSON shapes of the real registry; images come from ``seeder.build_image``.
It takes pushes (blob uploads, manifest PUTs, checked as distribution checks them) and, as
an OCI distribution 1.1 registry, serves the referrers API: a manifest pushed with a
``subject`` is listed by ``GET /v2/<name>/referrers/<digest>`` (``artifactType`` filter,
``OCI-Filters-Applied``, ``OCI-Subject`` on the push); ``referrers=False`` makes it answer
that route as 2.8.2 does (see ``content``). Optional Basic or token auth (opaque tokens
from its own ``/token``).

Faults are switched on per repository or globally, optionally for some request kinds only,
for the next ``times`` matching requests or until ``clear()``: 429 with ``Retry-After``,
5xx, a delay before the headers, a slow drip of the body, truncated (malformed) JSON, huge
streamed bodies, a wrong ``Content-Type``. Every request is logged with its kind and status.

Serve it with ``serve()``/``close()`` in a running loop, with pytest-aiohttp's
``aiohttp_server(fault.make_app())``, or in a background thread with ``start()``/``stop()``.
Unlike 2.8.2 it never converts manifests: an ``Accept`` that excludes the stored type
(and ``*/*``) gets 404 MANIFEST_UNKNOWN, as 2.8.2 does for OCI content.
"""

from __future__ import annotations

__all__ = ["Fault", "FaultRegistry", "Kind", "LoggedRequest", "tag_page"]

from devcluster.faultregistry.server import FaultRegistry
from devcluster.faultregistry.wire import Fault, Kind, LoggedRequest, tag_page
