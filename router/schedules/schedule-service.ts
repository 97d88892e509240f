import type { Schedule, ScheduleServiceServer } from '../../proto/gen/stratus/v1/schedules';
import { missedTicksFromPb, missedTicksToPb } from '../../sdk/core/wire/schedule-codec';
import { unary, type HandlerContext } from '../grpc-handler';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
import { tenantOf } from '../../sdk/core/identity';
import type { InvokeTargets } from '../functions/invoke-target';
import type { FunctionCache } from '../functions/function-cache';
import { ownsSource, sourceTenant } from '../auth/source-ownership';
import { upcomingTick, type ScheduleManager } from './schedule-manager';
import type { ScheduleRecord } from './schedule-registry';

function toPb(s: ScheduleRecord, nowMs: number): Schedule {
  return {
    id: s.id,
    functionName: s.functionName,
    expression: s.expression,
    timezone: s.timezone,
    payload: s.payload,
    missedTicks: missedTicksToPb(s.missedTicks),
    qualifier: s.qualifier ?? '',
    createdMs: s.createdMs,
    // Before the first tick the state holds the creation time, which is no tick.
    lastTickMs: s.state.lastTickMs > s.createdMs ? s.state.lastTickMs : 0,
    nextTickMs: upcomingTick(s, nowMs) ?? 0,
  };
}

/** ScheduleService: create, list and delete schedules, each owned by the tenant that created it. */
export function createScheduleService(ctx: HandlerContext, manager: ScheduleManager, cache: FunctionCache, targets: Pick<InvokeTargets, 'resolve'>): ScheduleServiceServer {
  const { access } = ctx;
  return {
    createSchedule: unary(ctx, 'stratus.ScheduleService/CreateSchedule', async (req, span, caller) => {
      span.setAttribute('faas.name', req.functionName);
      const target = await cache.get(validateFunctionName(req.functionName));
      if (!target) throw new StratusError('FunctionNotFound', `function '${req.functionName}' does not exist: deploy it first (stratus deploy ${req.functionName} <folder>), then add the schedule`);
      const tenant = sourceTenant(caller, target);
      await access.authorize(caller, 'function:write', { kind: 'function', name: req.functionName, tenant: caller.tenant });
      await access.authorize({ kind: 'source', source: 'schedule', name: '*', tenant, depth: 0 }, 'function:invoke', { kind: 'function', name: target.config.name, tenant: tenantOf(target) });
      // The version or alias must exist now (it is resolved again at every tick).
      if (req.qualifier) await targets.resolve(target.config.name, req.qualifier);
      const record = await manager.create({
        tenant,
        qualifier: req.qualifier,
        functionName: req.functionName,
        expression: req.expression,
        timezone: req.timezone,
        payload: req.payload,
        missedTicks: missedTicksFromPb(req.missedTicks),
      });
      return toPb(record, Date.now());
    }),
    listSchedules: unary(ctx, 'stratus.ScheduleService/ListSchedules', async (req, _span, caller) => {
      await access.authorize(caller, 'function:read', { kind: 'function', name: req.functionName || '*', tenant: caller.tenant });
      const now = Date.now();
      return { schedules: (await manager.list(req.functionName || undefined)).filter((s) => ownsSource(caller, tenantOf(s))).map((s) => toPb(s, now)) };
    }),
    deleteSchedule: unary(ctx, 'stratus.ScheduleService/DeleteSchedule', async (req, _span, caller) => {
      await access.authorize(caller, 'function:write', { kind: 'function', name: '*', tenant: caller.tenant });
      const existing = (await manager.list()).find((s) => s.id === req.id);
      if (existing && !ownsSource(caller, tenantOf(existing))) throw new StratusError('AccessDenied', `schedule ${req.id} belongs to another tenant: only its tenant may delete it`);
      await manager.delete(req.id);
      return {};
    }),
  };
}
