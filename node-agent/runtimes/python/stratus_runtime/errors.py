"""Error results in awslambdaric's shape, for the Runtime API and for the error log line."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, Dict, List, Optional

from .logs import iso_timestamp

# Files whose frames lead into user code: this runtime, and importlib's import_module frame that
# sits between us and a module's top level. awslambdaric drops leading frames of its bootstrap.py
# only, which leaves importlib's frame in init traces; we drop that too so traces start in user code.
_RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_IMPORTLIB_DIR = os.path.dirname(os.path.abspath(importlib.__file__)) + os.sep

_ERROR_LOG_LINE_TERMINATE = "\r"
# awslambdaric indents traceback lines in the log with NO-BREAK SPACE so log viewers that trim
# leading whitespace keep the indentation.
_ERROR_LOG_INDENT = "\u00a0"


class FaultException(Exception):
    """A failure the runtime classifies itself, reported with a `Runtime.*` error type."""

    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"

    def __init__(self, error_type: str, message: str, trace: Optional[List[str]] = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def make_error(message: str, error_type: str, stack_trace: List[str], request_id: Optional[str] = None) -> Dict[str, Any]:
    """The error body awslambdaric posts; `requestId` is "" for init errors, as there."""
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def fault_error(fault: FaultException, request_id: Optional[str] = None) -> Dict[str, Any]:
    """The error body for a failure the runtime classified."""
    return make_error(fault.message, fault.error_type, fault.trace, request_id)


def _safe_str(value: object) -> str:
    # A user exception whose __str__ raises must not take the runtime down with it.
    try:
        return str(value)
    except Exception:
        return "<unprintable %s object>" % type(value).__name__


def _is_runtime_frame(filename: str) -> bool:
    path = os.path.abspath(filename) if not filename.startswith("<") else filename
    return path.startswith(_RUNTIME_DIR) or path.startswith(_IMPORTLIB_DIR) or path.startswith("<frozen importlib")


def exception_error(exc: BaseException, request_id: Optional[str] = None) -> Dict[str, Any]:
    """The error body for an exception from user code: its class name, str() and formatted frames."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = 0
    while start < len(frames) and _is_runtime_frame(frames[start].filename):
        start += 1
    # Plain tuples, as awslambdaric formats them: no column carets from Python 3.11+.
    tuples = [(f.filename, f.lineno, f.name, f.line) for f in frames[start:]]
    return make_error(_safe_str(exc), type(exc).__name__, traceback.format_list(tuples), request_id)


def _indent(line: str) -> str:
    stripped = line.lstrip(" ")
    return _ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped


def format_error_log(error: Dict[str, Any], json_format: bool) -> str:
    """The one stdout line awslambdaric writes for an unhandled error (text or JSON format)."""
    if json_format:
        record = {"timestamp": iso_timestamp(time.time()), "level": "ERROR"}
        record.update(error)
        return json.dumps(record, default=str) + "\n"
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error.get("stackTrace") or []:
        if element == "":
            lines.append("")
        else:
            lines.extend(_indent(line) for line in element.splitlines())
    # The message may hold newlines too; the agent reads stdout line by line.
    return _ERROR_LOG_LINE_TERMINATE.join(lines).replace("\r\n", "\r").replace("\n", "\r") + "\n"


def log_error(error: Dict[str, Any], json_format: bool) -> None:
    """Writes the error line to stdout and flushes it, so it precedes the error post."""
    sys.stdout.write(format_error_log(error, json_format))
    sys.stdout.flush()
