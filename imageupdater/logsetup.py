"""Process-wide log setup for the CLI entry points: levels and text or JSON lines on stderr.

Only entry points call ``configure_logging``; library code just uses named loggers under
``image_updater``. Upstream's level names are accepted (``trace`` and ``warn`` included).
Structured context (``application``, ``image``, ``uid`` …) travels in ``extra=`` and appears
as ``key=value`` pairs in text (unless the message says that pair already) and as fields in
JSON: numbers, booleans, ``None`` and lists stay JSON numbers, booleans, ``null`` and arrays
(a cycle summary's counts can be summed by a log pipeline), anything else becomes its
``str()``. JSON lines carry the time in UTC with milliseconds (``2026-12-03T18:00:00.123Z``),
so lines from one second keep their order across components.
"""

from __future__ import annotations

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "configure_logging", "log_settings"]

import datetime as dt
import json
import logging
import math
import sys
from collections.abc import Mapping
from typing import Any

from imageupdater.errors import InvalidInput

TRACE = 5
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error")
LOG_FORMATS = ("text", "json")


def log_settings(level: str | None, fmt: str | None, env: Mapping[str, str]) -> tuple[str, str]:
    """The log level and format: the flag, else upstream's ``IMAGE_UPDATER_LOGLEVEL`` /
    ``IMAGE_UPDATER_LOGFORMAT`` (what the ConfigMap's ``log.level`` / ``log.format`` become),
    else info and text. A bad environment value is an error, as the same flag would be."""
    chosen_level = level or env.get("IMAGE_UPDATER_LOGLEVEL", "info")
    chosen_format = fmt or env.get("IMAGE_UPDATER_LOGFORMAT", "text")
    if chosen_level.lower() not in LOG_LEVELS:
        raise InvalidInput(
            f"IMAGE_UPDATER_LOGLEVEL={chosen_level!r}: expected one of {', '.join(LOG_LEVELS)}"
        )
    if chosen_format.lower() not in LOG_FORMATS:
        raise InvalidInput(
            f"IMAGE_UPDATER_LOGFORMAT={chosen_format!r}: expected one of {', '.join(LOG_FORMATS)}"
        )
    return chosen_level.lower(), chosen_format.lower()


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
        message = record.getMessage()
        # A field the message already says as ``key=value`` (upstream's cycle summary says
        # them all) is not said twice.
        pairs = (f"{key}={value}" for key, value in sorted(_context(record).items()))
        extra = " ".join(pair for pair in pairs if pair not in message)
        return f"{line} {extra}" if extra else line


def _json_time(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with milliseconds: ``2026-12-03T18:00:00.123Z``."""
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_value(value: object) -> object:
    # bool is an int; both, floats and None are JSON values already. A float that JSON
    # cannot write (nan, inf) is written as text rather than as invalid JSON.
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return str(value)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _json_time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _context(record).items():
            # Context never overwrites the line's own time, level, logger or message.
            entry.setdefault(key, _json_value(value))
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
