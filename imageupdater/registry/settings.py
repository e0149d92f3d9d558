"""Tunables of the registry client, with defaults sized for production registries."""

from __future__ import annotations

__all__ = ["ClientSettings"]

from dataclasses import dataclass

from imageupdater.registry.reachability import ReachabilityPolicy


@dataclass(frozen=True, slots=True)
class ClientSettings:
    connect_timeout: float = 10.0  # seconds to establish a connection (TLS included)
    request_timeout: float = 30.0  # seconds for one whole request, body included
    max_body_bytes: int = 10 * 1024 * 1024  # per JSON answer; larger is a protocol error
    page_size: int | None = None  # tag-list `n`; None lets the registry choose (Quay caps it)
    max_pages: int = 200
    max_tags: int = 100_000
    tag_list_ttl: float = 30.0  # one tag list per repository per cycle, shared by policies
    digest_ttl: float = 30.0  # manifest digest of (repository, tag), from HEAD
    # How long a newest-build candidate's digest is trusted before a HEAD checks whether the
    # tag was re-pushed: long, so a warm cycle asks nothing about tags it has seen, while a
    # re-pushed tag is still noticed within the hour (upstream never notices).
    metadata_recheck: float = 3600.0
    max_cached_manifests: int = 20_000  # manifests and configs by digest (immutable), LRU
    max_cached_digests: int = 50_000
    max_concurrency: int = 20  # concurrent requests per registry
    max_retries: int = 3  # for 429 and 5xx answers
    backoff: float = 0.5  # first 5xx back-off; doubles each retry
    max_retry_after: float = 60.0  # a longer Retry-After fails fast instead of waiting
    tls_cert_dir: str | None = "/app/config/tls"  # CA per API host when ca_file is unset
    rate_limit: float | None = None  # req/s overriding every endpoint's `limit` (the `test` flag)
    # Where tenant-named registries may be reached; None = anywhere (the operator's `test`).
    reachability: ReachabilityPolicy | None = None
    max_redirects: int = 5  # followed by hand, so each hop's address is checked

    def __post_init__(self) -> None:
        for name in (
            "connect_timeout",
            "request_timeout",
            "tag_list_ttl",
            "digest_ttl",
            "metadata_recheck",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"ClientSettings.{name} must not be negative")
        if self.max_redirects < 0:
            raise ValueError("ClientSettings.max_redirects must not be negative")
        if self.max_concurrency < 1 or self.max_pages < 1 or self.max_tags < 1:
            raise ValueError("ClientSettings limits must be at least 1")
        if self.page_size is not None and self.page_size < 1:
            raise ValueError(f"ClientSettings.page_size must be at least 1, got {self.page_size}")
