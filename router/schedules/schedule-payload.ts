import { StratusError } from '../../sdk/core/errors';

/**
 * What a schedule hands its function at each tick. A payload template is JSON text in which
 * these placeholders are replaced:
 *
 *   $time      the scheduled time of the tick, ISO 8601 UTC ("2025-01-01T12:00:00.000Z")
 *   $epochMs   the same as milliseconds since 1970 (a number: write it unquoted)
 *   $schedule  the schedule's id
 *
 * e.g. {"time":"$time","job":"nightly"}. The result must be JSON. Without a template the
 * function gets EventBridge's "Scheduled Event", so handlers written for it run unchanged.
 */

/** Largest template accepted (EventBridge Scheduler's input limit). */
export const MAX_TEMPLATE_BYTES = 256 * 1024;

/** Where a tick's default event says it comes from. */
export interface TickContext {
  scheduleId: string;
  tickMs: number;
  requestId: string;
  region: string;
  accountId: string;
}

const PLACEHOLDER = /\$(time|epochMs|schedule)\b/g;

/** Replaces the placeholders of `template` for one tick. */
export function renderTemplate(template: string, tick: Pick<TickContext, 'scheduleId' | 'tickMs'>): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    switch (name) {
      case 'time':
        return new Date(tick.tickMs).toISOString();
      case 'epochMs':
        return String(tick.tickMs);
      default:
        return tick.scheduleId;
    }
  });
}

/** Validates a template: within the size limit and JSON once rendered. Empty is the default event. */
export function validateTemplate(template: string): string {
  if (!template) return '';
  if (Buffer.byteLength(template) > MAX_TEMPLATE_BYTES) throw new StratusError('InvalidRequest', `the payload template is over ${MAX_TEMPLATE_BYTES / 1024} KB: pass a reference to the data instead`);
  try {
    JSON.parse(renderTemplate(template, { scheduleId: 'id', tickMs: 0 }));
  } catch (cause) {
    throw new StratusError('InvalidRequest', `the payload must be JSON once $time, $epochMs and $schedule are replaced (${(cause as Error).message}), e.g. {"time":"$time"}`, { cause });
  }
  return template;
}

/** EventBridge's "Scheduled Event" for one tick. */
export function scheduledEvent(tick: TickContext): Record<string, unknown> {
  return {
    version: '0',
    id: tick.requestId,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: tick.accountId,
    // EventBridge writes whole seconds.
    time: new Date(tick.tickMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: tick.region,
    resources: [`arn:aws:events:${tick.region}:${tick.accountId}:rule/${tick.scheduleId}`],
    detail: {},
  };
}

/** The payload bytes for one tick. */
export function tickPayload(template: string, tick: TickContext): Buffer {
  return Buffer.from(template ? renderTemplate(template, tick) : JSON.stringify(scheduledEvent(tick)));
}

/** The request id of a tick's invocation: deterministic, so re-enqueueing it is deduplicated. */
export function tickRequestId(scheduleId: string, tickMs: number): string {
  return `sched-${scheduleId}-${tickMs}`;
}
