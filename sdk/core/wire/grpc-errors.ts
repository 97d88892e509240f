import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { StratusError, isErrorCode, type ErrorCode } from '../errors';

/** Metadata key carrying the Stratus error code next to the gRPC status. */
export const ERROR_CODE_KEY = 'stratus-error-code';
/** Metadata key carrying a throttle's retry hint in milliseconds. */
export const RETRY_AFTER_KEY = 'stratus-retry-after-ms';

const TO_STATUS: Record<ErrorCode, status> = {
  InvalidRequest: status.INVALID_ARGUMENT,
  FunctionNotFound: status.NOT_FOUND,
  FunctionAlreadyExists: status.ALREADY_EXISTS,
  RevisionConflict: status.FAILED_PRECONDITION,
  CodeNotFound: status.FAILED_PRECONDITION,
  InvalidCode: status.INVALID_ARGUMENT,
  ResourceNotFound: status.NOT_FOUND,
  ResourceConflict: status.ALREADY_EXISTS,
  PayloadTooLarge: status.RESOURCE_EXHAUSTED,
  InvalidRequestContent: status.INVALID_ARGUMENT,
  TooManyRequests: status.RESOURCE_EXHAUSTED,
  Unauthenticated: status.UNAUTHENTICATED,
  AccessDenied: status.PERMISSION_DENIED,
  RecursiveInvocation: status.FAILED_PRECONDITION,
  Timeout: status.DEADLINE_EXCEEDED,
  Cancelled: status.CANCELLED,
  AgentLost: status.UNAVAILABLE,
  ServiceUnavailable: status.UNAVAILABLE,
  Internal: status.INTERNAL,
};

/** Turns a StratusError into the status object a grpc-js handler passes to its callback. */
export function toGrpcStatus(err: StratusError): Partial<StatusObject> & { code: status; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, err.code);
  if (err.retryAfterMs !== undefined) metadata.set(RETRY_AFTER_KEY, String(Math.ceil(err.retryAfterMs)));
  return { code: TO_STATUS[err.code], details: err.message, metadata };
}

function codeFromStatus(code: status): ErrorCode {
  switch (code) {
    case status.INVALID_ARGUMENT:
      return 'InvalidRequest';
    case status.NOT_FOUND:
      return 'FunctionNotFound';
    case status.ALREADY_EXISTS:
      return 'FunctionAlreadyExists';
    case status.RESOURCE_EXHAUSTED:
      return 'TooManyRequests';
    case status.UNAUTHENTICATED:
      return 'Unauthenticated';
    case status.PERMISSION_DENIED:
      return 'AccessDenied';
    case status.DEADLINE_EXCEEDED:
      return 'Timeout';
    case status.CANCELLED:
      return 'Cancelled';
    case status.UNAVAILABLE:
      return 'ServiceUnavailable';
    default:
      return 'Internal';
  }
}

function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && typeof (value as Partial<ServiceError>).code === 'number' && 'metadata' in value;
}

/**
 * Translates a grpc-js failure into a StratusError. The Stratus code in the metadata wins;
 * without it (a proxy, an unreachable server) the gRPC status decides.
 */
export function fromGrpcError(err: unknown, unreachableHint = ''): StratusError {
  if (err instanceof StratusError) return err;
  if (!isServiceError(err)) return new StratusError('Internal', String(err), { cause: err });
  const sent = err.metadata?.get(ERROR_CODE_KEY)[0];
  const retryAfter = Number(err.metadata?.get(RETRY_AFTER_KEY)[0]);
  const code = isErrorCode(sent) ? sent : codeFromStatus(err.code);
  let message = err.details || err.message;
  if (!isErrorCode(sent) && err.code === status.UNAVAILABLE && unreachableHint) message = `${message}: ${unreachableHint}`;
  return new StratusError(code, message, {
    cause: err,
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  });
}
