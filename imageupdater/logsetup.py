"""Process-wide log setup for the CLI entry points: levels and text or JSON lines on stderr.

Only entry points call ``configure_logging``; library code just uses named loggers under
``image_updater``. Upstream's level names are accepted (``trace`` and ``warn`` included).
Structured context (``application``, ``image``, ``uid`` …) travels in ``extra=`` and appears
as ``key=value`` pairs in text and as fields in JSON.
"""

from __future__ import annotations

__all__ = ["LOG_LEVELS", "configure_logging"]

import json
import logging
import sys
from typing import Any

TRACE = 5
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error")
_LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{key}={value}" for key, value in sorted(_context(record).items()))
        return f"{line} {extra}" if extra else line


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({key: str(value) for key, value in _context(record).items()})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=False)


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    """Send ``image_updater`` logs to stderr at ``level`` in ``fmt`` (``text`` or ``json``)."""
    logging.addLevelName(TRACE, "TRACE")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("image_updater")
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level.lower(), logging.INFO))
    root.propagate = False
