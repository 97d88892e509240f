"""HTTP to the Runtime API (2018-06-01) over one persistent connection, as lambda-runtime-api.md describes it."""

from __future__ import annotations

import http.client
import json
import random
import sys
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

_PREFIX = "/2018-06-01/runtime"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_USER_AGENT = "stratus-python-runtime/%d.%d.%d" % sys.version_info[:3]
# Attempts per request: the first retry is immediate (the usual failure is a keep-alive
# connection the server closed while we were idle), later ones back off with jitter.
_ATTEMPTS = 3
_BACKOFF_S = 0.1


class RuntimeApiUnavailable(Exception):
    """The Runtime API could not be reached or refused to hand out work: the runtime must exit."""


class InvocationRequest:
    """One event from `GET /invocation/next`, with the headers that describe it."""

    def __init__(self, headers: http.client.HTTPMessage, body: bytes) -> None:
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        if not request_id:
            raise RuntimeApiUnavailable("the Runtime API sent an event without a Lambda-Runtime-Aws-Request-Id header")
        self.request_id: str = request_id
        self.deadline_ms = _int_or_zero(headers.get("Lambda-Runtime-Deadline-Ms"))
        self.invoked_function_arn: Optional[str] = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.trace_id: Optional[str] = headers.get("Lambda-Runtime-Trace-Id")
        self.client_context: Optional[str] = headers.get("Lambda-Runtime-Client-Context")
        self.cognito_identity: Optional[str] = headers.get("Lambda-Runtime-Cognito-Identity")
        self.tenant_id: Optional[str] = headers.get("Lambda-Runtime-Aws-Tenant-Id")
        self.traceparent: Optional[str] = headers.get("traceparent")
        self.session_token: Optional[str] = headers.get("Stratus-Session-Token")
        self.api_endpoint: Optional[str] = headers.get("Stratus-Api-Endpoint")
        self.tracestate: Optional[str] = headers.get("tracestate")
        self.content_type: Optional[str] = headers.get("Content-Type")
        self.body = body


class _OneWriteConnection(http.client.HTTPConnection):
    """An HTTPConnection that hands each request to the kernel in one write, headers and body together.

    http.client writes the header block and the body with two send() calls. Inside a sandbox with
    its own network the Runtime API is reached through pasta, which splices what it reads onto its
    own host-side socket; that socket has Nagle's algorithm on (pasta sets no TCP_NODELAY), so when
    the two writes arrive apart the body waits there for the agent's delayed ACK of the headers:
    40 ms on a third to two thirds of all posts. One write leaves nothing to hold back, for any post
    pasta reads at once (bodies of a megabyte still arrive in pieces there and can wait). Our own
    socket has TCP_NODELAY already: http.client sets it in connect().
    """

    def __init__(self, address: str) -> None:
        # timeout=None: a blocking socket, immune to socket.setdefaulttimeout in user code.
        super().__init__(address, timeout=None)
        self._pending: List[bytes] = []

    def send(self, data: Any) -> None:
        # request() passes the header block, then the body (bytes: _request only sends bytes).
        self._pending.append(bytes(data))

    def getresponse(self) -> http.client.HTTPResponse:
        data = b"".join(self._pending)
        self._pending.clear()
        super().send(data)
        return super().getresponse()

    def close(self) -> None:
        self._pending.clear()
        super().close()


def _int_or_zero(value: Optional[str]) -> int:
    # A missing or garbled deadline reads as already passed rather than as no deadline at all.
    try:
        return int(value or "0")
    except ValueError:
        return 0


class RuntimeClient:
    """The runtime's side of the Runtime API at `address` (host:port, from AWS_LAMBDA_RUNTIME_API)."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._connection: Optional[_OneWriteConnection] = None

    def next_invocation(self) -> InvocationRequest:
        """Blocks, with no timeout (the instance may be frozen while it waits), until the next event."""
        status, headers, body = self._request("GET", _PREFIX + "/invocation/next")
        if status != 200:
            raise RuntimeApiUnavailable("GET /invocation/next failed with HTTP %d: %s" % (status, body[:500].decode("utf-8", "replace")))
        return InvocationRequest(headers, body)

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        """Posts a handler's result."""
        path = "%s/invocation/%s/response" % (_PREFIX, quote(request_id, safe=""))
        self._post(path, body, {"Content-Type": content_type})

    def post_error(self, request_id: str, error: Dict[str, Any]) -> None:
        """Posts an invocation error, with its type also in the error-type header."""
        path = "%s/invocation/%s/error" % (_PREFIX, quote(request_id, safe=""))
        self._post(path, _error_body(error), _error_headers(error))

    def post_init_error(self, error: Dict[str, Any]) -> None:
        """Posts an init error; the caller exits after."""
        self._post(_PREFIX + "/init/error", _error_body(error), _error_headers(error))

    def _post(self, path: str, body: bytes, headers: Dict[str, str]) -> None:
        status, _, reply = self._request("POST", path, body, headers)
        if not 200 <= status < 300:
            # The agent already knows (a 413 is reported by the agent itself, a 400 means it gave
            # up on the invocation); carrying on to the next event is all the runtime can do.
            sys.stderr.write("stratus python runtime: POST %s got HTTP %d: %s\n" % (path, status, reply[:500].decode("utf-8", "replace")))
            sys.stderr.flush()

    def _request(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> Tuple[int, http.client.HTTPMessage, bytes]:
        all_headers = {"User-Agent": _USER_AGENT}
        all_headers.update(headers or {})
        last_error: Optional[BaseException] = None
        for attempt in range(_ATTEMPTS):
            if attempt > 1:
                time.sleep(_BACKOFF_S * (attempt - 1) * (1 + random.random()))
            try:
                connection = self._connect()
                connection.request(method, path, body=body, headers=all_headers)
                response = connection.getresponse()
                reply = response.read()
                return response.status, response.headers, reply
            except (OSError, http.client.HTTPException) as e:
                self._close()
                last_error = e
        raise RuntimeApiUnavailable("%s %s to the Runtime API at %s failed: %s" % (method, path, self._address, last_error))

    def _connect(self) -> _OneWriteConnection:
        if self._connection is None:
            self._connection = _OneWriteConnection(self._address)
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _error_body(error: Dict[str, Any]) -> bytes:
    return json.dumps(error, default=str).encode("utf-8")


def _error_headers(error: Dict[str, Any]) -> Dict[str, str]:
    # Header values go out as latin-1 and may not hold line breaks; class names may be any identifier.
    error_type = str(error.get("errorType") or "Runtime.Unknown")
    safe_type = "".join(c if 32 <= ord(c) < 127 else "?" for c in error_type)
    return {"Content-Type": "application/json", _ERROR_TYPE_HEADER: safe_type}
