"""One invocation, start to finish: context, event, handler call, result or error, post."""

from __future__ import annotations

import decimal
import json
import os
import sys
from typing import Any, Callable, Dict, Optional, Tuple

from . import logs
from .context import LambdaContext, parse_json_header
from .errors import FaultException, exception_error, fault_error, log_error
from .runtime_client import InvocationRequest, RuntimeClient

Handler = Callable[[Any, Any], Any]


class _ResultEncoder(json.JSONEncoder):
    """json.dumps as awslambdaric's encoder behaves for the types handlers commonly return.

    awslambdaric (simplejson) writes a Decimal as its exact text; the stdlib cannot emit raw
    numbers, so integral Decimals become ints and others floats (same value, maybe fewer digits).
    DynamoDB items are full of Decimals, so refusing them would break code that works on AWS.
    """

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            if o.is_finite() and o == o.to_integral_value():
                return int(o)
            return float(o)
        return super().default(o)


def _unmarshal(request: InvocationRequest) -> Any:
    media_type = (request.content_type or "application/json").split(";")[0].strip().lower()
    if media_type != "application/json":
        # As awslambdaric: a non-JSON invoke reaches the handler as the raw bytes.
        return request.body
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except Exception as e:
        raise FaultException(FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(e))


def _marshal(result: Any) -> Tuple[bytes, str]:
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return _ResultEncoder().encode(result).encode("utf-8"), "application/json"
    except Exception as e:
        raise FaultException(FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(e))


def _set_env(name: str, value: Optional[str]) -> None:
    # Set for this invocation, or removed so a previous invocation's value cannot leak into it.
    if value:
        os.environ[name] = value
    else:
        os.environ.pop(name, None)


def _flush_output() -> None:
    # The agent attributes output lines to the running invocation, so everything the handler
    # printed must be in the pipe before the result is posted.
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def handle_invocation(client: RuntimeClient, handler: Handler, request: InvocationRequest, json_logs: bool) -> None:
    """Runs `handler` for `request` and posts its result or error.

    Only Exception is caught: SystemExit and KeyboardInterrupt from the handler end the process,
    which the agent reports as Runtime.ExitError.
    """
    logs.set_request_id(request.request_id)
    _set_env("_X_AMZN_TRACE_ID", request.trace_id)
    _set_env("TRACEPARENT", request.traceparent)
    _set_env("TRACESTATE", request.tracestate)
    # The execution role's credentials for this invocation, and the router API to use them on.
    _set_env("STRATUS_TOKEN", request.session_token)
    _set_env("STRATUS_ENDPOINT", request.api_endpoint)

    error: Optional[Dict[str, Any]] = None
    try:
        context = LambdaContext(
            request.request_id,
            request.invoked_function_arn,
            request.deadline_ms,
            parse_json_header(request.client_context, "Client Context"),
            parse_json_header(request.cognito_identity, "Cognito Identity"),
            request.tenant_id,
            request.traceparent,
            request.tracestate,
        )
        event = _unmarshal(request)
        body, content_type = _marshal(handler(event, context))
    except FaultException as e:
        error = fault_error(e, request.request_id)
    except Exception as e:
        error = exception_error(e, request.request_id)

    _flush_output()
    if error is not None:
        log_error(error, json_logs)
        client.post_error(request.request_id, error)
    else:
        client.post_response(request.request_id, body, content_type)
