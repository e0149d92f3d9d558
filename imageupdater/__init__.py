"""Image Updater's shared core.

Layers, lowest first (the import contracts in ``pyproject.toml`` keep them honest):

* values: ``errors``, ``images``, ``versions``, ``platforms``, ``tags``, ``policy``,
  ``registries_conf``, ``credentials`` — immutable data and their parsers;
* pure logic: ``annotations``, ``strategies`` — decisions without I/O or clocks;
* adapters: ``registry`` (aiohttp client), ``kube`` (the API server over aiohttp) — the only I/O.

The apps (``webhook``, ``reconciler``, ``certs``) build on this package; it never imports them.
"""

__version__ = "0.1.0"
