"""The `context` argument of a handler: awslambdaric's LambdaContext plus Stratus' trace context."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, Optional

from .errors import FaultException

# W3C trace-context fields a caller may pass in the client context's `w3c` key (awslambdaric).
_W3C_FIELDS = ("traceparent", "tracestate", "baggage")


class CognitoIdentity:
    """`context.identity`: always present; both fields None without a Cognito identity header."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, cognito_identity_id: Optional[str] = None, cognito_identity_pool_id: Optional[str] = None) -> None:
        self.cognito_identity_id = cognito_identity_id
        self.cognito_identity_pool_id = cognito_identity_pool_id

    def __repr__(self) -> str:
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client:
    """`context.client_context.client`: the mobile app that called."""

    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, fields: Dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        return "Client([%s])" % ",".join("%s=%s" % (n, getattr(self, n)) for n in self.__slots__)


class ClientContext:
    """`context.client_context`: None without a client context header."""

    __slots__ = ("custom", "env", "client")

    def __init__(self, fields: Dict[str, Any]) -> None:
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = Client(client) if isinstance(client, dict) else None

    def __repr__(self) -> str:
        return "ClientContext([custom=%s,env=%s,client=%s])" % (self.custom, self.env, self.client)


class LambdaContext:
    """What awslambdaric passes as `context`; the env-backed fields are read once per invocation."""

    def __init__(
        self,
        aws_request_id: str,
        invoked_function_arn: Optional[str],
        deadline_ms: int,
        client_context: Optional[Dict[str, Any]],
        cognito_identity: Optional[Dict[str, Any]],
        tenant_id: Optional[str] = None,
        traceparent: Optional[str] = None,
        tracestate: Optional[str] = None,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.invoked_function_arn = invoked_function_arn
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as awslambdaric passes the environment value through.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.tenant_id = tenant_id
        # Stratus: the W3C trace context the caller's span propagated (headers traceparent/tracestate).
        self.traceparent = traceparent
        self.tracestate = tracestate
        self._w3c = _pop_w3c(client_context)
        if not self._w3c and traceparent:
            self._w3c = {"traceparent": traceparent}
            if tracestate:
                self._w3c["tracestate"] = tracestate
        self.client_context = ClientContext(client_context) if client_context is not None else None
        identity = cognito_identity or {}
        self.identity = CognitoIdentity(identity.get("cognitoIdentityId"), identity.get("cognitoIdentityPoolId"))
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the invocation's deadline, never below 0."""
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def w3c(self) -> Dict[str, str]:
        """The W3C trace context of this invocation: client context `w3c` first, else Stratus' headers."""
        return dict(self._w3c)

    def log(self, msg: object) -> None:
        """Writes `msg` to the function's log as-is, like awslambdaric's context.log."""
        sys.stdout.write(str(msg))
        sys.stdout.flush()

    def __repr__(self) -> str:
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


def _pop_w3c(client_context: Optional[Dict[str, Any]]) -> Dict[str, str]:
    # As awslambdaric: the `w3c` key is removed from the client context and exposed through w3c().
    if client_context is None or "w3c" not in client_context:
        return {}
    raw = client_context.pop("w3c")
    if not isinstance(raw, dict):
        return {}
    return {k: raw[k] for k in _W3C_FIELDS if isinstance(raw.get(k), str)}


def parse_json_header(value: Optional[str], name: str) -> Optional[Dict[str, Any]]:
    """A JSON-object header, None when absent; anything else fails the invocation."""
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except Exception as e:
        raise FaultException(FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR, "Unable to parse {} JSON: {}".format(name, e))
    if not isinstance(parsed, dict):
        # awslambdaric fails here too, with an AttributeError; a typed error says more.
        raise FaultException(FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR, "Unable to parse {} JSON: expected an object".format(name))
    return parsed
