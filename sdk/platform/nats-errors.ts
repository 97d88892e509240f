import { StratusError, ensureError } from '../core/errors';

// The NATS adapter's one translation of its failures into Stratus errors (STYLE.md §5).

/** A NATS failure (timeout, no responders, lost connection) as ServiceUnavailable naming what could not be done. */
export function natsFailure(what: string, err: unknown): StratusError {
  if (err instanceof StratusError) return err;
  return new StratusError('ServiceUnavailable', `${what} failed: NATS did not answer (${ensureError(err).message}); check that nats-server is running and reachable, then retry`, {
    cause: err,
  });
}

/** Runs a NATS operation, translating its failures with {@link natsFailure}. */
export async function viaNats<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw natsFailure(what, err);
  }
}
