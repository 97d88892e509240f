/**
 * Error shapes the Node runtime reports to the Runtime API, matching aws-lambda-ric 3.x so that code
 * and tooling written for AWS Lambda see the same `errorType` / `errorMessage` / `trace` values.
 */

/** Body of `/invocation/{id}/error` and `/init/error`, exactly as the Node RIC sends it. */
export interface ErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

/**
 * A failure the runtime itself classifies (`Runtime.ImportModuleError`, …). The type travels as `name`
 * so that `toErrorPayload` treats it like any user error; the user's original error stays as `cause`.
 */
export class RuntimeError extends Error {
  constructor(errorType: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = errorType;
    // The user's own stack (for a SyntaxError it holds file:line and the offending source) is what helps,
    // not the runtime frames that wrapped it.
    if (cause instanceof Error && typeof cause.stack === 'string') {
      this.stack = `${errorType}: ${message}\n${cause.stack}`;
    }
  }
}

/** True for native errors and for foreign-realm or hand-made objects that look like one (as the RIC checks). */
export function isErrorLike(value: unknown): value is Error {
  if (value instanceof Error) return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === 'string' && typeof v.message === 'string' && typeof v.stack === 'string';
}

// The RIC escapes DEL because the native client used it as a delimiter; kept so payloads are identical.
function escapeDel(text: string): string {
  return text.replace(/\x7F/g, '%7F');
}

/** Shapes any thrown value the way the Node RIC does: Errors keep name/message/stack, others use typeof/String. */
export function toErrorPayload(value: unknown): ErrorPayload {
  try {
    if (isErrorLike(value)) {
      const stack = typeof value.stack === 'string' ? value.stack : `${value.name}: ${value.message}`;
      return {
        errorType: escapeDel(String(value.name)),
        errorMessage: escapeDel(String(value.message)),
        trace: escapeDel(stack).split('\n'),
      };
    }
    return { errorType: typeof value, errorMessage: String(value), trace: [] };
  } catch {
    // A getter or toString that throws must not take the runtime down with it.
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      trace: [],
    };
  }
}

/** The JSON the RIC logs after "Invoke Error" (same fields as the payload, but the stack is named `stack`). */
export function formatForLog(payload: ErrorPayload): string {
  return JSON.stringify({ errorType: payload.errorType, errorMessage: payload.errorMessage, stack: payload.trace });
}

/** Turns an unknown thrown value into an Error without losing it, for places that need `.message`. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(String(value), { cause: value });
}
