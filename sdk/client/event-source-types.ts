/** Event source types the SDK returns and takes: subject triggers, published events, schedules. */
import type { MissedTicksPolicy, ScheduleDefinition } from '../core/schedule-config';

export type { MissedTicksPolicy } from '../core/schedule-config';

/** A function's subscription to a NATS subject pattern. */
export interface TriggerInfo {
  /** 12 hex digits. */
  id: string;
  functionName: string;
  /** NATS subject pattern: `orders.*`, `audit.>`. */
  subject: string;
  /** The filter as JSON text (`{"path":"type","equals":"created"}`); empty when every event runs the function. */
  filter: string;
  created: Date;
  /** The version or alias its events run; empty: $LATEST. */
  qualifier: string;
}

/** A filter condition on the event's JSON data; see the README's "Event sources" section. */
export type TriggerFilterCondition =
  | { path: string; equals: unknown }
  | { path: string; in: unknown[] }
  | { path: string; exists: boolean }
  | { path: string; prefix: string };

/** Options for createTrigger. */
export interface CreateTriggerOptions {
  /** The version or alias its events run (default $LATEST). */
  qualifier?: string;
  /** One condition, a list that must all hold, or the same as JSON text. */
  filter?: TriggerFilterCondition | TriggerFilterCondition[] | string;
}

/** Options for publish. */
export interface PublishOptions {
  /** Sets Nats-Msg-Id: a repeat within two minutes is captured once (and makes the call safe to retry). */
  msgId?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** What happened to a published event. */
export interface PublishResult {
  /** The events stream stored it: some trigger subscribes to the subject. */
  captured: boolean;
  /** Its sequence in the events stream (0 when not captured). */
  sequence: number;
  /** Its msg id was seen within the window; nothing new was stored. */
  duplicate: boolean;
}

/** A schedule. */
export interface ScheduleInfo extends ScheduleDefinition {
  created: Date;
  /** The last tick fired or skipped. */
  lastTick?: Date;
  /** The next tick, unless the expression has none left. */
  nextTick?: Date;
}

/** Options for createSchedule. */
export interface CreateScheduleOptions {
  /** The version or alias its ticks run (default $LATEST). */
  qualifier?: string;
  /** JSON text or a value; `$time`, `$epochMs` and `$schedule` are replaced at each tick. Default: EventBridge's Scheduled Event. */
  payload?: string | Record<string, unknown> | unknown[];
  /** IANA time zone for cron expressions. Default UTC. */
  timezone?: string;
  /** Default 'fire-once'. */
  missedTicks?: MissedTicksPolicy;
}
