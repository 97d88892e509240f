import type { Metadata, sendUnaryData, ServerReadableStream, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { context, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { bearerToken } from '../sdk/platform/auth';
import type { Principal } from '../sdk/core/identity';
import type { AccessControl } from './auth/access-control';
import type { Authenticator } from './auth/authenticator';
import { toStratusError } from '../sdk/core/errors';
import type { Logger } from '../sdk/platform/logger';
import { extractFromMetadata } from '../sdk/core/trace-context';
import { toGrpcStatus } from '../sdk/core/wire/grpc-errors';

/** What every public API handler shares: who may call, how calls are traced and logged. */
export interface HandlerContext {
  auth: Authenticator;
  access: AccessControl;
  tracer: Tracer;
  logger: Logger;
}

async function run<Res>(ctx: HandlerContext, name: string, metadata: Metadata, callback: sendUnaryData<Res>, body: (span: Span, caller: Principal) => Promise<Res>): Promise<void> {
  await context.with(extractFromMetadata(metadata), () =>
    ctx.tracer.startActiveSpan(name, { kind: SpanKind.SERVER }, async (span) => {
      try {
        const caller = await ctx.auth.authenticate(bearerToken(metadata));
        span.setAttribute('stratus.principal', caller.kind === 'user' ? `${caller.tenant}/${caller.name}` : `${caller.tenant}/${caller.kind}`);
        callback(null, await body(span, caller));
      } catch (err) {
        const e = toStratusError(err);
        span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
        span.setAttribute('stratus.error.code', e.code);
        if (e.code === 'Internal') ctx.logger.error(`${name} failed`, { err: e, cause: String((e.cause as Error | undefined)?.stack ?? '') });
        callback(toGrpcStatus(e));
      } finally {
        span.end();
      }
    }),
  );
}

/** `run` catches the handler's errors; this is for the rest (the answer itself failing), which nobody else would see. */
function answerFailed(ctx: HandlerContext, name: string, err: unknown): void {
  ctx.logger.error(`${name}: the answer could not be sent`, { err: toStratusError(err) });
}

/** Wraps a unary handler: authenticates, traces as a server span, and maps errors to gRPC statuses. */
export function unary<Req, Res>(ctx: HandlerContext, name: string, handler: (req: Req, span: Span, caller: Principal) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    run(ctx, name, call.metadata, callback, (span, caller) => handler(call.request, span, caller)).catch((err: unknown) => answerFailed(ctx, name, err));
  };
}

/** Like {@link unary}, for client-streaming calls. Authentication happens before the stream is read. */
export function clientStream<Req, Res>(ctx: HandlerContext, name: string, handler: (stream: AsyncIterable<Req>, span: Span, caller: Principal) => Promise<Res>) {
  return (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>): void => {
    run(ctx, name, call.metadata, callback, (span, caller) => handler(call as AsyncIterable<Req>, span, caller)).catch((err: unknown) => answerFailed(ctx, name, err));
  };
}

/** Writes one message of a server stream, waiting while the client is slow to read. */
export type StreamWriter<Res> = (message: Res) => Promise<void>;

/**
 * Like {@link unary}, for server-streaming calls: the handler writes messages until it returns
 * (the stream ends) or the caller cancels (the signal aborts; the handler should stop then).
 */
export function serverStream<Req, Res>(ctx: HandlerContext, name: string, handler: (req: Req, write: StreamWriter<Res>, signal: AbortSignal, caller: Principal, span: Span) => Promise<void>) {
  return (call: ServerWritableStream<Req, Res>): void => {
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort());
    const write: StreamWriter<Res> = (message) =>
      new Promise<void>((resolve) => {
        if (controller.signal.aborted) return resolve();
        if (call.write(message)) resolve();
        else call.once('drain', () => resolve());
      });
    context
      .with(extractFromMetadata(call.metadata), () =>
        ctx.tracer.startActiveSpan(name, { kind: SpanKind.SERVER }, async (span) => {
          try {
            const caller = await ctx.auth.authenticate(bearerToken(call.metadata));
            await handler(call.request, write, controller.signal, caller, span);
            if (!controller.signal.aborted) call.end();
          } catch (err) {
            const e = toStratusError(err);
            span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
            if (e.code === 'Internal') ctx.logger.error(`${name} failed`, { err: e });
            if (!controller.signal.aborted) call.emit('error', toGrpcStatus(e));
          } finally {
            span.end();
          }
        }),
      )
      .catch((err: unknown) => answerFailed(ctx, name, err));
  };
}
