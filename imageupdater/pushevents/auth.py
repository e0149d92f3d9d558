"""How a delivery proves it comes from the registry: a shared secret compared in constant
time (in the query, the ``Authorization`` header or ``X-Webhook-Secret``), or an HMAC-SHA256
signature of the body. Refusals never quote what was sent or what was expected."""

from __future__ import annotations

__all__ = ["check_hmac_sha256", "check_secret", "hmac_sha256"]

import hashlib
import hmac

from imageupdater.pushevents.model import refuse


def check_secret(given: str, expected: str, *, where: str, what: str) -> None:
    """``given`` (read from ``where``) must equal ``expected``."""
    if not given:
        refuse(f"{what}: no secret in {where}", "missing_secret", status=401)
    # Both sides as bytes of the same encoding: compare_digest on str refuses non-ASCII.
    if not hmac.compare_digest(given.encode(), expected.encode()):
        refuse(f"{what}: the secret in {where} does not match", "bad_secret", status=401)


def hmac_sha256(secret: str, body: bytes) -> str:
    """The ``sha256=<hex>`` signature of ``body`` under ``secret`` (GitHub's form)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_hmac_sha256(signature: str, secret: str, body: bytes, *, header: str, what: str) -> None:
    """``signature`` (from ``header``, ``sha256=<hex>``) must sign ``body`` under ``secret``."""
    if not signature:
        refuse(f"{what}: no {header} signature", "missing_secret", status=401)
    if not signature.startswith("sha256="):
        refuse(f"{what}: {header} must be sha256=<hex>", "bad_secret", status=401)
    expected = hmac_sha256(secret, body)
    if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        refuse(f"{what}: the {header} signature does not match the body", "bad_secret", status=401)
