import type { IncomingMessage } from 'node:http';
import { StratusError } from '../../sdk/core/errors';

/** A request body, or the fact that it is over the limit. */
export type BodyResult = { kind: 'body'; body: Buffer } | { kind: 'tooLarge'; bytes: number };

/**
 * Reads a request body up to `maxBytes`. A declared Content-Length over the limit is refused
 * before a byte is read; a body that grows past it stops being kept at once. Rejects when the
 * client goes away mid-body.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve({ kind: 'tooLarge', bytes: declared });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        chunks.length = 0;
        resolve({ kind: 'tooLarge', bytes: size });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ kind: 'body', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    };
    const onError = (err: Error): void => {
      cleanup();
      // The connection broke mid-body: the client is gone, nothing here failed.
      reject(err instanceof StratusError ? err : new StratusError('Cancelled', `reading the request body failed: ${err.message}`, { cause: err }));
    };
    const onAborted = (): void => onError(new StratusError('Cancelled', 'the client closed the connection before sending the whole body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * Throws away the rest of a body we refused, so a client still sending it reads our answer
 * instead of a reset connection; past `capBytes` the connection is cut, so a refused upload
 * cannot keep the router busy.
 */
export function discardBody(req: IncomingMessage, capBytes: number): void {
  if (req.readableEnded) return;
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > capBytes) req.socket.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}
