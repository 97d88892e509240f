/**
 * The Stratus error model: one error class with a stable code, a message that says
 * what to do, the cause kept, and whether retrying the same call can help.
 */

/** Every code a Stratus API can return. Stable: clients switch on these. */
export const ERROR_CODES = [
  'InvalidRequest',
  'FunctionNotFound',
  'FunctionAlreadyExists',
  'RevisionConflict',
  'CodeNotFound',
  'InvalidCode',
  /** Something other than a function (a route, a function URL…) does not exist. */
  'ResourceNotFound',
  /** Something other than a function already exists with other settings. */
  'ResourceConflict',
  'PayloadTooLarge',
  /** An invocation payload that is not JSON (Lambda's InvalidRequestContentException). */
  'InvalidRequestContent',
  'TooManyRequests',
  'Unauthenticated',
  /** The caller is known but may not do this (Lambda's AccessDeniedException); the message names the missing permission. */
  'AccessDenied',
  /** A chain of functions invoking each other reached the recursion limit (Lambda's recursive loop detection). */
  'RecursiveInvocation',
  'Timeout',
  'Cancelled',
  'AgentLost',
  'ServiceUnavailable',
  'Internal',
] as const;

/** A stable error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Returns true when `value` is one of the known error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Codes where the same request, sent again later, can succeed. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['TooManyRequests', 'ServiceUnavailable', 'Timeout']);

/** Options for constructing a {@link StratusError}. */
export interface StratusErrorOptions {
  cause?: unknown;
  /** When the caller should retry, if it retries; set on throttles. */
  retryAfterMs?: number;
  /** Overrides the code's default retryability. */
  retryable?: boolean;
}

/** The one error type Stratus components throw and return across the wire. */
export class StratusError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: StratusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StratusError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Turns anything thrown into an Error, so `cause` chains and messages are always usable. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}

/** Wraps anything thrown as a StratusError, keeping a StratusError as it is. */
export function toStratusError(value: unknown, fallback: ErrorCode = 'Internal'): StratusError {
  if (value instanceof StratusError) return value;
  const err = ensureError(value);
  return new StratusError(fallback, err.message, { cause: err });
}
