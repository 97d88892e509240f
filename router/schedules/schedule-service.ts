import type { Schedule, ScheduleServiceServer } from '../../proto/gen/stratus/v1/schedules';
import { missedTicksFromPb, missedTicksToPb } from '../../sdk/core/wire/schedule-codec';
import { unary, type HandlerContext } from '../grpc-handler';
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
    createdMs: s.createdMs,
    // Before the first tick the state holds the creation time, which is no tick.
    lastTickMs: s.state.lastTickMs > s.createdMs ? s.state.lastTickMs : 0,
    nextTickMs: upcomingTick(s, nowMs) ?? 0,
  };
}

/** ScheduleService: create, list and delete schedules. */
export function createScheduleService(ctx: HandlerContext, manager: ScheduleManager): ScheduleServiceServer {
  return {
    createSchedule: unary(ctx, 'stratus.ScheduleService/CreateSchedule', async (req, span) => {
      span.setAttribute('faas.name', req.functionName);
      const record = await manager.create({
        functionName: req.functionName,
        expression: req.expression,
        timezone: req.timezone,
        payload: req.payload,
        missedTicks: missedTicksFromPb(req.missedTicks),
      });
      return toPb(record, Date.now());
    }),
    listSchedules: unary(ctx, 'stratus.ScheduleService/ListSchedules', async (req) => {
      const now = Date.now();
      return { schedules: (await manager.list(req.functionName || undefined)).map((s) => toPb(s, now)) };
    }),
    deleteSchedule: unary(ctx, 'stratus.ScheduleService/DeleteSchedule', async (req) => {
      await manager.delete(req.id);
      return {};
    }),
  };
}
