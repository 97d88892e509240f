import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { sleep } from '../core/deadline';
import { StratusError } from '../core/errors';
import { injectIntoMetadata } from '../core/trace-context';
import { withBearer } from '../core/wire/bearer';
import { waitForChannelReady } from '../core/wire/grpc-channel';
import { fromGrpcError } from '../core/wire/grpc-errors';
import type { ResolvedClientOptions } from './client-options';
import { EndpointRing } from './endpoint-ring';
import { nextRetry, retryableFor, type RetryClass } from './retry-policy';
import { closeStubs, createStubs, type Stubs } from './router-stubs';
import { diagnoseTls } from './tls-diagnosis';

/** The grpc-js callback a call's answer (or failure) arrives on. */
export type Reply<T> = (err: grpc.ServiceError | null, res: T) => void;

/** Starts one call on a router's stubs with the transport's metadata and deadline; unary or client-streaming. */
export type Send<T> = (s: Stubs, md: grpc.Metadata, opts: grpc.CallOptions, cb: Reply<T>) => grpc.ClientUnaryCall | grpc.ClientWritableStream<unknown>;

/**
 * How a service sub-client (client.mappings, client.tables, client.buckets) makes a unary call
 * through the transport: with the default deadline, its retry class, failover and error
 * translation. `S` is the part of a router's stubs it needs, so it sees no more than that.
 */
export type UnaryCaller<S> = <T>(cls: 'read' | 'write', method: string, send: (s: S, md: grpc.Metadata, opts: grpc.CallOptions, cb: Reply<T>) => grpc.ClientUnaryCall) => Promise<T>;

const tracer = trace.getTracer('stratus-sdk');

/**
 * The client's call path to the routers: one channel per router, failover to the next router when
 * one cannot be reached (a request that never left is always safe to send elsewhere), a deadline
 * on every call, retries with backoff where the retry class allows, bearer token and trace context
 * in the metadata, and gRPC errors translated to StratusErrors.
 */
export class RouterTransport {
  private readonly stubs = new Map<string, Stubs>();
  private readonly ring: EndpointRing;

  constructor(private readonly options: ResolvedClientOptions) {
    this.ring = new EndpointRing(options.endpoints);
  }

  /** Deadline for calls that set none, in ms. */
  get defaultTimeoutMs(): number {
    return this.options.defaultTimeoutMs;
  }

  /** The absolute deadline for a call that sets none. */
  deadline(): number {
    return Date.now() + this.options.defaultTimeoutMs;
  }

  /** Unary calls with the default deadline, for the service sub-clients. */
  readonly unary: UnaryCaller<Stubs> = (cls, method, send) => this.call(cls, method, this.deadline(), undefined, send);

  /** Makes one call, traced as `stratus.client.<method>`; rejects with a StratusError. `deadline` may be Infinity. */
  call<T>(cls: RetryClass, method: string, deadline: number, signal: AbortSignal | undefined, send: Send<T>): Promise<T> {
    return tracer.startActiveSpan(`stratus.client.${method}`, { kind: SpanKind.CLIENT }, async (span) => {
      try {
        return await this.attempt(cls, deadline, signal, send);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof StratusError ? err.code : String(err) });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /**
   * Opens a server-streaming call on the first router that connects and yields its messages until
   * the server ends it, the signal aborts (then it just stops) or it fails (a StratusError). Not
   * retried once messages flowed: the caller knows where it got to.
   */
  async *serverStream<T>(method: string, signal: AbortSignal | undefined, open: (s: Stubs, md: grpc.Metadata) => grpc.ClientReadableStream<T>): AsyncGenerator<T> {
    const target = await this.reach(Date.now() + this.options.defaultTimeoutMs);
    if (target.kind === 'unreachable') throw target.error;
    const call = open(target.stubs, injectIntoMetadata(withBearer(new grpc.Metadata(), this.options.token())));
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const span = tracer.startSpan(`stratus.client.${method}`, { kind: SpanKind.CLIENT });
    try {
      for await (const message of call as AsyncIterable<T>) yield message;
    } catch (err) {
      if (signal?.aborted) return;
      const e = fromGrpcError(err as grpc.ServiceError);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      call.cancel();
      span.end();
    }
  }

  /** Closes every connection; a later call opens them again. */
  close(): void {
    for (const s of this.stubs.values()) closeStubs(s);
    this.stubs.clear();
  }

  private stubsFor(endpoint: string): Stubs {
    let s = this.stubs.get(endpoint);
    if (!s) this.stubs.set(endpoint, (s = createStubs(endpoint, this.options.tls)));
    return s;
  }

  /** Waits until the endpoint's channel is connected; false when it cannot be reached in time. */
  private connect(s: Stubs, deadline: number): Promise<boolean> {
    return waitForChannelReady(s.channel, Math.min(deadline, Date.now() + this.options.connectTimeoutMs));
  }

  /** The first router that connects, trying each once from the current one. */
  private async reach(deadline: number): Promise<{ kind: 'reached'; stubs: Stubs } | { kind: 'unreachable'; error: StratusError }> {
    let error = new StratusError('ServiceUnavailable', 'no router endpoint to try');
    for (let i = 0; i < this.ring.size; i += 1) {
      const endpoint = this.ring.current();
      const s = this.stubsFor(endpoint);
      if (await this.connect(s, deadline)) return { kind: 'reached', stubs: s };
      // grpc-js says only that the channel failed; a TLS mismatch would read as a router that is down.
      const tlsProblem = await diagnoseTls(endpoint, this.options.tls, Math.min(deadline, Date.now() + this.options.connectTimeoutMs));
      error = tlsProblem ?? new StratusError('ServiceUnavailable', `cannot reach a Stratus router at ${endpoint}: start the cluster (npm run dev) or point STRATUS_ENDPOINT at a running router`);
      this.ring.skip();
    }
    return { kind: 'unreachable', error };
  }

  private async attempt<T>(cls: RetryClass, deadline: number, signal: AbortSignal | undefined, send: Send<T>): Promise<T> {
    const { maxAttempts, backoffBaseMs, backoffCapMs } = this.options;
    let lastError: StratusError | undefined;
    for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
      const target = await this.reach(deadline);
      if (target.kind === 'reached') {
        try {
          return await this.once(target.stubs, deadline, signal, send);
        } catch (err) {
          lastError = err as StratusError;
          if (!retryableFor(cls, lastError)) throw lastError;
        }
      } else {
        // Retried whatever the class: a router that could not be reached never saw the request.
        lastError = target.error;
      }
      const next = nextRetry({ attempt, maxAttempts, retryAfterMs: lastError.retryAfterMs, deadline, now: Date.now(), backoffBaseMs, backoffCapMs });
      if (next.kind === 'stop') break;
      await sleep(next.delayMs, signal);
    }
    throw lastError ?? new StratusError('ServiceUnavailable', 'no router answered');
  }

  private once<T>(s: Stubs, deadline: number, signal: AbortSignal | undefined, send: Send<T>): Promise<T> {
    if (signal?.aborted) return Promise.reject(new StratusError('Cancelled', 'the call was cancelled'));
    const metadata = injectIntoMetadata(withBearer(new grpc.Metadata(), this.options.token()));
    return new Promise<T>((resolve, reject) => {
      const call = send(s, metadata, Number.isFinite(deadline) ? { deadline } : {}, (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(fromGrpcError(err));
        else resolve(res);
      });
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
