import { StratusError, toStratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
import type { Logger } from '../../sdk/platform/logger';
import type { FunctionCache } from '../functions/function-cache';
import { parseEventFilter } from './event-filter';
import { EventStream } from './event-stream';
import { validateTriggerPattern } from './subject-patterns';
import { newTriggerId, validateTriggerId, type TriggerRecord, type TriggerRegistry } from './trigger-registry';

/** Most triggers a cluster holds: each is a consumer and a pull loop on every router. */
export const MAX_TRIGGERS = 1000;

/** What a caller asks for. */
export interface CreateTriggerInput {
  /** The tenant that owns the trigger. */
  tenant: string;
  functionName: string;
  subject: string;
  /** Filter as JSON text (see event-filter.ts); empty for none. */
  filter: string;
  /** The version or alias its events run; empty: $LATEST. */
  qualifier?: string;
}

/**
 * Creating and deleting triggers keeps three things in step: the record (KV), the events
 * stream's subjects and the trigger's consumer. The record is the truth; {@link reconcile}
 * repairs the other two after a router died halfway, and every router runs it periodically.
 */
export class TriggerManager {
  constructor(
    private readonly registry: TriggerRegistry,
    private readonly stream: EventStream,
    private readonly cache: FunctionCache,
    private readonly logger: Logger,
  ) {}

  /** Creates a trigger; the function must exist and the pattern must be capturable. */
  async create(input: CreateTriggerInput): Promise<TriggerRecord> {
    const functionName = validateFunctionName(input.functionName);
    const subject = validateTriggerPattern(input.subject);
    const filter = parseEventFilter(input.filter);
    if (!(await this.cache.get(functionName))) {
      throw new StratusError('FunctionNotFound', `function '${functionName}' does not exist: deploy it first (stratus deploy ${functionName} <folder>), then add the trigger`);
    }
    const existing = await this.registry.list();
    if (existing.length >= MAX_TRIGGERS) throw new StratusError('InvalidRequest', `the cluster has ${existing.length} triggers, the most it holds: delete unused ones (stratus triggers rm <id>)`);
    const desired = EventStream.subjectsFor([...existing.map((t) => t.subject), subject]);
    await this.stream.checkNoForeignOverlap(subject, desired);
    const record: TriggerRecord = { id: newTriggerId(), tenant: input.tenant, functionName, ...(input.qualifier ? { qualifier: input.qualifier } : {}), subject, filter, createdMs: Date.now(), startSequence: (await this.stream.lastSequence()) + 1 };
    await this.registry.create(record);
    try {
      await this.reconcileSubjects();
      await this.stream.ensureConsumer(record);
    } catch (err) {
      // Undo, so no half-made trigger is left behind; reconcile cleans up whatever this misses.
      await this.registry.delete(record.id).catch(() => undefined);
      await this.stream.deleteConsumer(record.id).catch(() => undefined);
      await this.reconcileSubjects().catch(() => undefined);
      throw err;
    }
    return record;
  }

  /** Triggers, all or one function's. */
  async list(functionName?: string): Promise<TriggerRecord[]> {
    return this.registry.list(functionName ? validateFunctionName(functionName) : undefined);
  }

  /** Deletes a trigger: no event captured from now on runs its function. */
  async delete(id: string): Promise<TriggerRecord> {
    const record = await this.registry.get(validateTriggerId(id));
    if (!record) throw new StratusError('ResourceNotFound', `trigger ${id} does not exist: list triggers with stratus triggers ls`);
    await this.registry.delete(id);
    await this.stream.deleteConsumer(id);
    await this.reconcileSubjects();
    return record;
  }

  /** Brings the stream's subjects and the consumers in line with the stored triggers. */
  async reconcile(): Promise<void> {
    await this.reconcileSubjects();
    // Consumers first: a record is always written before its consumer, so any consumer listed
    // here whose record the later read lacks belongs to a deleted trigger.
    const consumerIds = await this.stream.consumerIds();
    const triggers = await this.registry.list();
    const ids = new Set(triggers.map((t) => t.id));
    for (const t of triggers) {
      await this.stream.ensureConsumer(t).catch((err: unknown) => this.logger.debug('trigger consumer not made yet; retrying later', { trigger: t.id, err: toStratusError(err) }));
    }
    for (const id of consumerIds) {
      // Its trigger was deleted by a router that died before removing the consumer.
      if (!ids.has(id)) await this.stream.deleteConsumer(id);
    }
  }

  /** Ensures the events stream exists (at router start). */
  async ensureStream(): Promise<void> {
    await this.stream.ensure((await this.registry.list()).map((t) => t.subject));
  }

  private reconcileSubjects(): Promise<void> {
    return this.stream.reconcile(async () => (await this.registry.list()).map((t) => t.subject));
  }
}
