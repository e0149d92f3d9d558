"""In-memory stand-ins for the credential tests: a secret store and a counting resolver."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.errors import CredentialError


class InMemorySecrets:
    """A ``SecretReader`` over a dict of ``(namespace, name) -> data``."""

    def __init__(self, secrets: Mapping[tuple[str, str], Mapping[str, bytes]]) -> None:
        self._secrets = dict(secrets)
        self.reads: list[tuple[str, str]] = []

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]:
        self.reads.append((namespace, name))
        try:
            return self._secrets[(namespace, name)]
        except KeyError:
            raise CredentialError(f"secret {namespace}/{name} not found") from None


class CountingResolver:
    """Hands out ``user:pass-<n>`` for the n-th call; can be held at a gate to overlap calls."""

    def __init__(self, *, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.gate = asyncio.Event()
        self.gate.set()

    async def resolve(self, ref: CredentialRef, *, registry_host: str, api_url: str) -> Credentials:
        self.calls += 1
        call = self.calls
        await self.gate.wait()
        if self.fail:
            raise CredentialError(f"resolution {call} failed")
        return Credentials("user", f"pass-{call}")
