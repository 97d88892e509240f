import { splitFunctionTarget } from '../../sdk/core/function-versions';
import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { toStratusError } from '../../sdk/core/errors';
import { viaNats } from '../../sdk/platform/nats-errors';
import type { Destination } from '../../sdk/core/function-config';
import type { Logger } from '../../sdk/platform/logger';
import type { AsyncQueue } from '../async/async-queue';
import type { FunctionCache } from '../functions/function-cache';

/** Dependencies of {@link FailureSink}. */
export interface FailureSinkDeps {
  js: JetStreamClient;
  queue: Pick<AsyncQueue, 'enqueue' | 'deadLetter'>;
  cache: Pick<FunctionCache, 'get'>;
  /** Starts the async dispatcher on a destination function. */
  watchAsync: (fn: string) => void;
  logger: Logger;
}

/** A failure record to deliver, built with or without the records themselves. */
export interface FailureDelivery {
  functionName: string;
  onFailure: Destination | undefined;
  includeRecords: boolean;
  requestId: string;
  condition: string;
  build: (withRecords: boolean) => string;
}

/**
 * Where records given up on go: the mapping's on-failure destination — a subject (published
 * through JetStream, so the record is stored before the records are acknowledged) or a function
 * (invoked asynchronously with the record) — and, without one or when it fails, the function's
 * dead letters, with the records when they fit, so `stratus dlq redrive` can run them again.
 * Resolves only once the record is stored somewhere; throws (and nothing may be acknowledged)
 * when even the dead letter cannot be stored.
 */
export class FailureSink {
  constructor(private readonly deps: FailureSinkDeps) {}

  /** Delivers the record; says where it went. */
  async deliver(d: FailureDelivery): Promise<'destination' | 'deadLetter'> {
    if (d.onFailure) {
      try {
        await this.toDestination(d.functionName, d.onFailure, Buffer.from(d.build(d.includeRecords)));
        return 'destination';
      } catch (err) {
        this.deps.logger.warn('mapping on-failure destination failed; dead-lettering instead', { fn: d.functionName, destination: `${d.onFailure.kind}:${d.onFailure.target}`, err: toStratusError(err) });
      }
    }
    await this.deps.queue.deadLetter(d.functionName, Buffer.from(d.build(true)), d.requestId, d.condition, 'json');
    return 'deadLetter';
  }

  private async toDestination(fn: string, dest: Destination, body: Buffer): Promise<void> {
    if (dest.kind === 'subject') {
      await viaNats(`publishing a failure record to ${dest.target}`, () => this.deps.js.publish(dest.target, body));
      return;
    }
    const { name, qualifier } = splitFunctionTarget(dest.target);
    const target = await this.deps.cache.get(name);
    if (!target) throw new Error(`destination function '${name}' of the mappings of '${fn}' does not exist`);
    await this.deps.queue.enqueue({ functionName: name, qualifier, payload: body, requestId: randomUUID(), enqueuedAtMs: Date.now(), attempt: 0, origin: { trigger: 'destination', source: 'mapping' } });
    this.deps.watchAsync(name);
  }
}
