"""The root logging handler: awslambdaric's text and JSON record formats, tagged with the request id."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from typing import Optional

_TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

# Attributes every LogRecord has; anything else on a record came from `extra=` and goes into JSON.
_RESERVED_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "aws_request_id", "_frame_type"}
)

# The id of the invocation running now: "" during init. It is not cleared after an invocation,
# so a background thread's late record carries the last id, as with awslambdaric.
_request_id = ""


def set_request_id(request_id: str) -> None:
    """Tags every later log record with `request_id`."""
    global _request_id
    _request_id = request_id


def iso_timestamp(epoch_seconds: float) -> str:
    """UTC ISO 8601 with milliseconds and a Z, the timestamp of every runtime log line."""
    whole = int(epoch_seconds)
    millis = int((epoch_seconds - whole) * 1000)
    return time.strftime(_DATE_FORMAT, time.gmtime(whole)) + ".%03dZ" % millis


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


class TextFormatter(logging.Formatter):
    """`[LEVEL]\\t<timestamp>Z\\t<requestId>\\t<message>`, one line: newlines become \\r."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT, _DATE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # An exception's traceback (logger.exception) is appended with newlines: keep it on the line.
        return super().format(record).replace("\r\n", "\r").replace("\n", "\r") + "\n"


def _normalised_level(record: logging.LogRecord) -> int:
    return min(50, max(0, record.levelno)) // 10 * 10


class JsonFormatter(logging.Formatter):
    """One JSON object per record with awslambdaric's field names; `extra=` fields are kept."""

    def format(self, record: logging.LogRecord) -> str:
        level = _normalised_level(record)
        exc_info = record.exc_info
        result = {
            "timestamp": iso_timestamp(record.created),
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": self._stack_trace(exc_info),
            "errorType": exc_info[0].__name__ if exc_info and exc_info[0] else None,
            "errorMessage": str(exc_info[1]) if exc_info and exc_info[1] is not None else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": "%s:%s:%s" % (record.pathname, record.funcName, record.lineno) if exc_info else None,
        }
        for key, value in vars(record).items():
            if key not in _RESERVED_FIELDS and key not in result:
                result[key] = value
        # default=str: an unserialisable `extra` value must not lose the record.
        return json.dumps({k: v for k, v in result.items() if v is not None}, default=str) + "\n"

    @staticmethod
    def _stack_trace(exc_info: object) -> Optional[list]:
        if not exc_info or not isinstance(exc_info, tuple) or exc_info[2] is None:
            return None
        return traceback.format_tb(exc_info[2])


class LambdaLogHandler(logging.Handler):
    """Writes formatted records to the current sys.stdout and flushes, so lines reach the agent in order."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            stream = sys.stdout
            stream.write(text)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def parse_level(value: Optional[str]) -> int:
    """AWS_LAMBDA_LOG_LEVEL as a logging level; TRACE means DEBUG.

    awslambdaric leaves the root logger at Python's default WARNING when the variable is unset, so
    `logging.info` shows nothing on AWS unless the code sets a level. We default to INFO instead:
    users of a self-hosted platform expect their info lines, and code that sets its own level is
    unaffected.
    """
    name = (value or "").strip().upper()
    name = "DEBUG" if name == "TRACE" else name
    level = logging.getLevelName(name) if name else None
    return level if isinstance(level, int) else logging.INFO


def install(json_format: bool, level_name: Optional[str]) -> None:
    """Adds the Lambda handler to the root logger; logging.basicConfig in user code then does nothing, as on AWS."""
    handler = LambdaLogHandler()
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.setLevel(parse_level(level_name))
    root.addHandler(handler)
