/** Wire ↔ SDK mapping of triggers, published events and schedules (the client's side only). */
import type { Schedule as SchedulePb } from '../../proto/gen/stratus/v1/schedules';
import type { PublishResponse, Trigger as TriggerPb } from '../../proto/gen/stratus/v1/triggers';
import type { PublishResult, ScheduleInfo, TriggerInfo } from './event-source-types';
import { missedTicksFromPb } from '../core/wire/schedule-codec';

/** Wire Trigger → SDK type. */
export function triggerFromPb(t: TriggerPb): TriggerInfo {
  return { id: t.id, functionName: t.functionName, subject: t.subject, filter: t.filter, created: new Date(t.createdMs), qualifier: t.qualifier };
}

/** Wire Schedule → SDK type; zero times mean "none". */
export function scheduleFromPb(s: SchedulePb): ScheduleInfo {
  return {
    id: s.id,
    functionName: s.functionName,
    expression: s.expression,
    timezone: s.timezone,
    payload: s.payload,
    missedTicks: missedTicksFromPb(s.missedTicks),
    qualifier: s.qualifier,
    created: new Date(s.createdMs),
    lastTick: s.lastTickMs ? new Date(s.lastTickMs) : undefined,
    nextTick: s.nextTickMs ? new Date(s.nextTickMs) : undefined,
  };
}

/** Wire PublishResponse → SDK type. */
export function publishResultFromPb(r: PublishResponse): PublishResult {
  return { captured: r.captured, sequence: r.sequence, duplicate: r.duplicate };
}
