import type { ListSchedulesResponse, Schedule as SchedulePb } from '../../proto/gen/stratus/v1/schedules';
import type { ListTriggersResponse, PublishResponse, Trigger as TriggerPb } from '../../proto/gen/stratus/v1/triggers';
import { missedTicksToPb } from '../core/wire/schedule-codec';
import { publishResultFromPb, scheduleFromPb, triggerFromPb } from './event-source-codec';
import type { CreateScheduleOptions, CreateTriggerOptions, PublishOptions, PublishResult, ScheduleInfo, TriggerInfo } from './event-source-types';
import type { RouterTransport } from './router-transport';

/** Subscribes a function to a NATS subject pattern; see StratusClient.createTrigger. */
export async function createTrigger(t: RouterTransport, functionName: string, subject: string, options: CreateTriggerOptions): Promise<TriggerInfo> {
  const filter = options.filter === undefined ? '' : typeof options.filter === 'string' ? options.filter : JSON.stringify(options.filter);
  const res = await t.call<TriggerPb>('write', 'CreateTrigger', t.deadline(), undefined, (s, md, opts, cb) => s.triggers.createTrigger({ functionName, subject, filter, qualifier: options.qualifier ?? '' }, md, opts, cb));
  return triggerFromPb(res);
}

/** Every trigger, or one function's (`functionName` empty for all). */
export async function listTriggers(t: RouterTransport, functionName: string): Promise<TriggerInfo[]> {
  const res = await t.call<ListTriggersResponse>('read', 'ListTriggers', t.deadline(), undefined, (s, md, opts, cb) => s.triggers.listTriggers({ functionName }, md, opts, cb));
  return res.triggers.map(triggerFromPb);
}

/** Deletes a trigger; ResourceNotFound when absent. */
export async function deleteTrigger(t: RouterTransport, id: string): Promise<void> {
  await t.call('write', 'DeleteTrigger', t.deadline(), undefined, (s, md, opts, cb) => s.triggers.deleteTrigger({ id }, md, opts, cb));
}

/** Publishes an event to a subject, as any NATS client could. */
export async function publish(t: RouterTransport, subject: string, payload: Buffer | string, options: PublishOptions): Promise<PublishResult> {
  const request = { subject, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), msgId: options.msgId ?? '', headers: { ...options.headers } };
  const deadline = Date.now() + (options.timeoutMs ?? t.defaultTimeoutMs);
  // With a msg id JetStream drops the repeat, so only then is a retry safe.
  const res = await t.call<PublishResponse>(options.msgId ? 'read' : 'write', 'Publish', deadline, undefined, (s, md, opts, cb) => s.events.publish(request, md, opts, cb));
  return publishResultFromPb(res);
}

/** Invokes a function on a schedule; see StratusClient.createSchedule. */
export async function createSchedule(t: RouterTransport, functionName: string, expression: string, options: CreateScheduleOptions): Promise<ScheduleInfo> {
  const payload = options.payload === undefined ? '' : typeof options.payload === 'string' ? options.payload : JSON.stringify(options.payload);
  const request = { functionName, expression, timezone: options.timezone ?? '', payload, missedTicks: missedTicksToPb(options.missedTicks), qualifier: options.qualifier ?? '' };
  return scheduleFromPb(await t.call<SchedulePb>('write', 'CreateSchedule', t.deadline(), undefined, (s, md, opts, cb) => s.schedules.createSchedule(request, md, opts, cb)));
}

/** Every schedule, or one function's (`functionName` empty for all). */
export async function listSchedules(t: RouterTransport, functionName: string): Promise<ScheduleInfo[]> {
  const res = await t.call<ListSchedulesResponse>('read', 'ListSchedules', t.deadline(), undefined, (s, md, opts, cb) => s.schedules.listSchedules({ functionName }, md, opts, cb));
  return res.schedules.map(scheduleFromPb);
}

/** Deletes a schedule; ResourceNotFound when absent. */
export async function deleteSchedule(t: RouterTransport, id: string): Promise<void> {
  await t.call('write', 'DeleteSchedule', t.deadline(), undefined, (s, md, opts, cb) => s.schedules.deleteSchedule({ id }, md, opts, cb));
}
