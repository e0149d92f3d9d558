"""Keeping unreadable request bodies from flooding the log.

A body whose ``Content-Encoding`` does not decode is answered 400 by the handler (and logged
once, as a malformed request). aiohttp then drains the rest of it, meets the same decoding
error again and logs it at ERROR with a traceback, once per such request: anyone who can
reach the port could fill the log with tracebacks. This filter drops that second report
and counts it instead.
"""

from __future__ import annotations

__all__ = ["UnreadableBodyFilter"]

import logging

from aiohttp.web_protocol import RequestPayloadError

AIOHTTP_SERVER_LOGGER = "aiohttp.server"


class UnreadableBodyFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, RequestPayloadError):
            self.dropped += 1
            return False
        return True

    @classmethod
    def installed(cls) -> UnreadableBodyFilter:
        """The filter on aiohttp's server logger, added once per process."""
        logger = logging.getLogger(AIOHTTP_SERVER_LOGGER)
        for existing in logger.filters:
            if isinstance(existing, cls):
                return existing
        installed = cls()
        logger.addFilter(installed)
        return installed
