import { EventEmitter } from 'node:events';
import { Metadata, type handleServerStreamingCall, type handleUnaryCall, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import { StratusError } from '../../sdk/core/errors';
import { fromGrpcError } from '../../sdk/core/wire/grpc-errors';

function metadataFor(token: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/**
 * Calls one of the router's own gRPC handlers in process, as the token's principal: the console
 * goes through exactly the authentication, authorization and validation the SDK and CLI get,
 * without a network hop (and without a TLS client to this router's own certificate). The call
 * object carries what the handlers read: the request and the metadata.
 */
export function callUnary<Req, Res>(handler: handleUnaryCall<Req, Res>, request: Req, token: string, signal?: AbortSignal): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    // What handlers read of a call: the request, the metadata, the deadline (none: the handler's
    // default applies) and 'cancelled' (the console's HTTP request went away).
    const emitter = Object.assign(new EventEmitter(), { request, metadata: metadataFor(token), getPeer: () => 'console', getDeadline: () => Infinity, cancelled: false });
    signal?.addEventListener('abort', () => {
      emitter.cancelled = true;
      emitter.emit('cancelled');
    }, { once: true });
    const call = emitter as unknown as ServerUnaryCall<Req, Res>;
    handler(call, (err, value) => {
      if (err) reject(fromGrpcError(Object.assign(new Error(err.details ?? 'failed'), err)));
      else if (value === undefined || value === null) reject(new StratusError('Internal', 'the handler answered nothing'));
      else resolve(value);
    });
  });
}

/**
 * Runs a server-streaming handler in process, handing each message to `onMessage`; resolves when
 * the handler ends the stream, rejects with its error. Aborting `signal` is the caller going away.
 */
export function callServerStream<Req, Res>(handler: handleServerStreamingCall<Req, Res>, request: Req, token: string, onMessage: (m: Res) => void, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const call = new EventEmitter() as EventEmitter & { request: Req; metadata: Metadata; write(m: Res): boolean; end(): void };
    call.request = request;
    call.metadata = metadataFor(token);
    call.write = (m: Res): boolean => {
      onMessage(m);
      return true;
    };
    call.end = (): void => resolve();
    call.on('error', (err: { details?: string; code?: number; metadata?: Metadata }) => reject(fromGrpcError(Object.assign(new Error(err.details ?? 'failed'), err))));
    const cancel = (): void => {
      call.emit('cancelled');
      resolve();
    };
    signal.addEventListener('abort', cancel, { once: true });
    handler(call as unknown as ServerWritableStream<Req, Res>);
  });
}
