import { StratusError } from '../../sdk/core/errors';
import type { MissedTicksPolicy } from '../../sdk/core/schedule-config';
import { validateFunctionName } from '../../sdk/core/function-config';
import type { FunctionCache } from '../functions/function-cache';
import { nextTick, parseScheduleExpression, type ExpressionLimits, type ScheduleExpression } from './schedule-expression';
import { validateTemplate } from './schedule-payload';
import { newScheduleId, validateScheduleId, type ScheduleRecord, type ScheduleRegistry } from './schedule-registry';

/** Most schedules a cluster holds: every router evaluates each of them. */
export const MAX_SCHEDULES = 1000;

/** What a caller asks for. */
export interface CreateScheduleInput {
  /** The tenant that owns the schedule. */
  tenant: string;
  functionName: string;
  expression: string;
  timezone: string;
  payload: string;
  missedTicks: MissedTicksPolicy;
  /** The version or alias its ticks run; empty: $LATEST. */
  qualifier?: string;
}

/** Parses a stored schedule's expression without the creating router's limits (another router may have had other ones). */
export function compileExpression(record: Pick<ScheduleRecord, 'expression' | 'timezone'>): ScheduleExpression | undefined {
  try {
    return parseScheduleExpression(record.expression, record.timezone, { minPeriodMs: 0 });
  } catch {
    // A cron whose allowed years are all past has no tick left.
    return undefined;
  }
}

/** The schedule's next tick after its last one and after now, or undefined. */
export function upcomingTick(record: ScheduleRecord, nowMs: number): number | undefined {
  const expr = compileExpression(record);
  return expr && nextTick(expr, record.createdMs, Math.max(nowMs, record.state.lastTickMs));
}

/** Creating, listing and deleting schedules; firing them is the Scheduler's. */
export class ScheduleManager {
  constructor(
    private readonly registry: ScheduleRegistry,
    private readonly cache: FunctionCache,
    private readonly limits: ExpressionLimits,
  ) {}

  /** Validates and stores a schedule; its first tick is the first after now. */
  async create(input: CreateScheduleInput): Promise<ScheduleRecord> {
    const functionName = validateFunctionName(input.functionName);
    parseScheduleExpression(input.expression, input.timezone, this.limits);
    const payload = validateTemplate(input.payload);
    if (!(await this.cache.get(functionName))) {
      throw new StratusError('FunctionNotFound', `function '${functionName}' does not exist: deploy it first (stratus deploy ${functionName} <folder>), then add the schedule`);
    }
    const count = (await this.registry.list()).length;
    if (count >= MAX_SCHEDULES) throw new StratusError('InvalidRequest', `the cluster has ${count} schedules, the most it holds: delete unused ones (stratus schedules rm <id>)`);
    const createdMs = Date.now();
    const record: ScheduleRecord = {
      id: newScheduleId(),
      tenant: input.tenant,
      functionName,
      expression: input.expression.trim(),
      timezone: input.timezone,
      payload,
      missedTicks: input.missedTicks,
      ...(input.qualifier ? { qualifier: input.qualifier } : {}),
      createdMs,
      state: { lastTickMs: createdMs, inflight: [] },
    };
    await this.registry.create(record);
    return record;
  }

  /** Schedules, all or one function's. */
  async list(functionName?: string): Promise<ScheduleRecord[]> {
    return this.registry.list(functionName ? validateFunctionName(functionName) : undefined);
  }

  /** Deletes a schedule: no tick after this fires (one being enqueued right now may still run). */
  async delete(id: string): Promise<void> {
    const entry = await this.registry.getEntry(validateScheduleId(id));
    if (!entry) throw new StratusError('ResourceNotFound', `schedule ${id} does not exist: list schedules with stratus schedules ls`);
    await this.registry.delete(id);
  }
}
