import { connectivityState, type ChannelInterface } from '@grpc/grpc-js';

/**
 * Resolves true once the channel is connected, false as soon as a connection attempt fails
 * (or at `untilMs`). Failing fast matters: a refused connection means the request was never
 * sent, so the caller can try another server at once instead of waiting out a timeout.
 */
export function waitForChannelReady(channel: ChannelInterface, untilMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      resolve(ok);
    };
    // grpc-js's own timers are unref'd: this ref'd one keeps the caller's process alive while it waits.
    const guard = setTimeout(() => finish(false), Math.max(0, untilMs - Date.now()) + 50);
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === connectivityState.READY) return finish(true);
      if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN) return finish(false);
      channel.watchConnectivityState(state, untilMs, (err) => (err ? finish(false) : check()));
    };
    // A server that died a moment ago still reads READY until the close already queued on its socket
    // is handled (one loop turn to read it, one for grpc-js to drop the connection). Let that I/O run
    // first: a request sent into a dead connection fails like one the server received, so it could
    // not be safely sent elsewhere.
    setImmediate(() => setImmediate(check));
  });
}
