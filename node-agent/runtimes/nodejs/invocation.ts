/**
 * Runs one handler call and decides when it is finished, with aws-lambda-ric 3.x semantics: promise
 * handlers, callback handlers that wait for an empty event loop, legacy done/succeed/fail, first
 * completion wins.
 */
import type { LambdaContext, LegacyCompletion } from './context';
import { RuntimeError } from './errors';
import type { UserHandler } from './handler-loader';

/** How an invocation ended. `exitCode` asks the runtime to exit once the error has been posted. */
export type Outcome =
  | { kind: 'success'; result: unknown }
  | { kind: 'error'; error: unknown; exitCode?: number; alreadyLogged?: boolean };

/**
 * The one action to run when the event loop runs dry, fired by the process' single `beforeExit`
 * listener. "Loop empty" is how RIC 3 knows a callback handler's background work is done.
 */
export class EmptyLoopHook {
  private action: (() => void) | undefined;

  /** Replaces the pending action. */
  set(action: () => void): void {
    this.action = action;
  }

  /** Drops the pending action. */
  clear(): void {
    this.action = undefined;
  }

  /** Runs and clears the action; false when there was none (the process is then really ending). */
  fire(): boolean {
    const action = this.action;
    this.action = undefined;
    if (!action) return false;
    action();
    return true;
  }
}

/** One running invocation: the single place where its outcome is decided, once. */
export class Invocation {
  /** Settles with the first completion reported by any route (return, callback, done, crash). */
  readonly outcome: Promise<Outcome>;
  private resolveOutcome!: (outcome: Outcome) => void;
  private settled = false;

  constructor(private readonly hook: EmptyLoopHook) {
    this.outcome = new Promise((resolve) => {
      this.resolveOutcome = resolve;
    });
  }

  /** An invocation that failed before the handler could run (bad event, bad headers). */
  static failed(hook: EmptyLoopHook, error: unknown): Invocation {
    const invocation = new Invocation(hook);
    invocation.settle({ kind: 'error', error });
    return invocation;
  }

  /** Records the outcome unless one is already recorded; returns whether this call won. */
  settle(outcome: Outcome): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.hook.clear();
    this.resolveOutcome(outcome);
    return true;
  }
}

const NODEJS_EXIT_MESSAGE =
  'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes';

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Calls the handler. Handlers with three or more parameters get a callback; the others are awaited.
 * A non-promise return value other than `undefined` is the result. A sync handler that returns
 * `undefined` is treated as RIC 3 does: it finishes through context.done/succeed/fail, or with `null`
 * once the event loop is empty, so legacy `context.succeed` handlers keep working.
 */
export function startInvocation(
  handler: UserHandler,
  event: unknown,
  buildContext: (legacy: LegacyCompletion) => LambdaContext,
  hook: EmptyLoopHook,
): Invocation {
  const invocation = new Invocation(hook);
  const succeed = (result: unknown): void => void invocation.settle({ kind: 'success', result });
  const fail = (error: unknown): void => void invocation.settle({ kind: 'error', error });
  const context = buildContext({
    done: (err, result) => (err === undefined || err === null ? succeed(result) : fail(err)),
    succeed: (result) => succeed(result),
    // RIC 3 reports a bare fail() as the string 'handled'.
    fail: (err) => fail(err === undefined || err === null ? 'handled' : err),
  });
  const callback = (err?: unknown, result?: unknown): void => {
    if (err !== undefined && err !== null) return fail(err);
    if (!context.callbackWaitsForEmptyEventLoop) return succeed(result);
    // The timers and sockets the handler left behind finish first; setImmediate as in RIC 3 so the
    // post is itself new work that keeps the process alive.
    hook.set(() => setImmediate(() => succeed(result)));
  };

  let returnedPromise = false;
  // If the loop drains with nothing reported: a promise that never settled is an error (RIC 3's
  // Runtime.NodeJsExit for async handlers); any other handler simply returned nothing.
  hook.set(() => (returnedPromise ? fail(new RuntimeError('Runtime.NodeJsExit', NODEJS_EXIT_MESSAGE)) : succeed(null)));
  try {
    const returned = handler.length >= 3 ? handler(event, context, callback) : handler(event, context);
    if (isThenable(returned)) {
      returnedPromise = true;
      returned.then(succeed, fail);
    } else if (handler.length < 3 && returned !== undefined) {
      succeed(returned);
    }
  } catch (err) {
    fail(err);
  }
  return invocation;
}
