import type { ErrorCode } from '../../sdk/core/errors';

/** The HTTP status a console API error answers with; every code has one (a new code fails the build until it is given one). */
export const TO_HTTP_STATUS: Record<ErrorCode, number> = {
  InvalidRequest: 400,
  InvalidRequestContent: 400,
  InvalidCode: 400,
  FunctionNotFound: 404,
  CodeNotFound: 404,
  ResourceNotFound: 404,
  FunctionAlreadyExists: 409,
  ResourceConflict: 409,
  RevisionConflict: 409,
  PayloadTooLarge: 413,
  TooManyRequests: 429,
  Unauthenticated: 401,
  AccessDenied: 403,
  RecursiveInvocation: 508,
  Timeout: 504,
  Cancelled: 499,
  AgentLost: 502,
  ServiceUnavailable: 503,
  Internal: 500,
};
