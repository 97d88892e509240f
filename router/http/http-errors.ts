/**
 * What the HTTP gateway answers when it cannot return the function's own response. Bodies follow
 * API Gateway's `{"message": …}` shape, plus a `reason` saying what failed and what to do, and the
 * request id to find the invocation's logs. Function error messages are never echoed: they may
 * hold secrets, and the caller of a public route is not the function's owner.
 */
import type { ErrorCode, StratusError } from '../../sdk/core/errors';
import type { HttpResponse } from './api-gateway-response';

/** The error type the agent reports when an invocation ran past the function's timeout. */
export const TIMEOUT_ERROR_TYPE = 'Sandbox.Timedout';

/** A JSON error response. */
export function errorResponse(statusCode: number, message: string, extra: Record<string, string> = {}, headers: Array<[string, string]> = []): HttpResponse {
  const body = Buffer.from(JSON.stringify({ message, ...extra }));
  return { statusCode, headers: [['content-type', 'application/json'], ...headers], body };
}

/** 404 for a request no route or function URL matches. */
export function notFound(): HttpResponse {
  return errorResponse(404, 'Not Found');
}

/** 401 for a token route called without a valid bearer token. */
export function unauthorized(reason: string): HttpResponse {
  return errorResponse(401, 'Unauthorized', { reason }, [['www-authenticate', 'Bearer']]);
}

/** 413 for a request body or event over the synchronous payload limit. */
export function payloadTooLarge(reason: string): HttpResponse {
  return errorResponse(413, 'Request Entity Too Large', { reason });
}

/**
 * The function ran and failed: 504 when it ran out of time (API Gateway's answer to an
 * integration that did not answer in time), else 502.
 */
export function functionFailed(functionName: string, errorType: string, requestId: string): HttpResponse {
  // Only the owner should see why: point at the logs (lines tagged with the request id) and a way to reproduce.
  const logs = `its log lines carry request id ${requestId}; reproduce with stratus invoke ${functionName} --log`;
  if (errorType === TIMEOUT_ERROR_TYPE) {
    return errorResponse(504, 'Gateway Timeout', { reason: `function '${functionName}' ran past its timeout: raise its timeout or make it faster; ${logs}`, requestId });
  }
  return errorResponse(502, 'Internal Server Error', { reason: `function '${functionName}' failed with ${errorType || 'an error'}: ${logs}`, requestId });
}

/** The function answered with something payload format 2.0 cannot map: 502. */
export function malformedResult(functionName: string, why: string, requestId: string): HttpResponse {
  return errorResponse(502, 'Internal Server Error', { reason: `function '${functionName}' returned a malformed response: ${why}`, requestId });
}

function retryAfter(err: StratusError): Array<[string, string]> {
  // Retry-After is whole seconds; round up so a client never comes back early.
  return err.retryAfterMs === undefined ? [] : [['retry-after', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)))]];
}

/** The HTTP status for a Stratus error code; exhaustive, so a new code breaks the build until mapped. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'InvalidRequest':
    case 'InvalidRequestContent':
      return 400;
    case 'Unauthenticated':
      return 401;
    case 'AccessDenied':
      return 403;
    case 'RecursiveInvocation':
      return 508;
    case 'PayloadTooLarge':
      return 413;
    case 'TooManyRequests':
      return 429;
    case 'Timeout':
      return 504;
    case 'ServiceUnavailable':
      return 503;
    // The agent was lost mid-call: the function may have run, like a failed integration.
    case 'AgentLost':
      return 502;
    // The invocation itself was rejected (a route to a deleted function): API Gateway answers 500.
    case 'FunctionNotFound':
    case 'FunctionAlreadyExists':
    case 'RevisionConflict':
    case 'CodeNotFound':
    case 'InvalidCode':
    case 'ResourceNotFound':
    case 'ResourceConflict':
    case 'Cancelled':
    case 'Internal':
      return 500;
    default: {
      const unmapped: never = code;
      return unmapped;
    }
  }
}

const MESSAGES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  413: 'Request Entity Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The response for a StratusError raised while routing or invoking. */
export function responseForError(err: StratusError, requestId: string): HttpResponse {
  const status = httpStatusFor(err.code);
  return errorResponse(status, MESSAGES[status] ?? 'Error', { reason: err.message, code: err.code, requestId }, retryAfter(err));
}
