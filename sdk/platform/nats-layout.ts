/**
 * Where Stratus keeps its state in NATS: bucket and subject names in one place,
 * so every component (and an operator's NATS permissions) agree on them.
 */
export const BUCKETS = {
  /** JetStream KV: function configurations, keyed by functionKey(). */
  functions: 'stratus_functions',
  /** JetStream KV: layer versions, keyed layer.<name>.<version>. */
  layers: 'stratus_layers',
  /** JetStream Object Store: code bundles and layers, named by sha256. */
  code: 'stratus_code',
  /** JetStream KV: HTTP routes keyed route.<id>, function URLs keyed url.<function>. */
  routes: 'stratus_routes',
  /** JetStream KV: subject triggers, keyed trg.<id>. */
  triggers: 'stratus_triggers',
  /** JetStream KV: schedules with their firing state, keyed sched.<id>. */
  schedules: 'stratus_schedules',
  /** JetStream KV: event source mappings, keyed mapping.<id>. */
  mappings: 'stratus_mappings',
  /** JetStream KV: API tokens (hashed), execution roles, resource policies, resource owners, the session signing key. */
  auth: 'stratus_auth',
  /** JetStream KV with a TTL: which router polls a mapping (lease.<id>) and which routers are alive (router.<id>). */
  mappingLeases: 'stratus_mapping_leases',
} as const;

/** JetStream streams. */
export const STREAMS = {
  /** Accepted asynchronous invocations, one subject per function (asyncSubject). */
  async: 'STRATUS_ASYNC',
  /** Dead letters: invocation records of events that failed for good (deadLetterSubject). */
  deadLetters: 'STRATUS_DLQ',
  /** Events published to subjects that triggers subscribe to; its subjects are the union of the trigger patterns. */
  events: 'STRATUS_EVENTS',
  /** Metered invocations, one subject per month and tenant (usageSubject): what `stratus usage` adds up. */
  usage: 'STRATUS_USAGE',
  /** Invocation records, one subject per function (invocationSubject): what `stratus invocations` queries. */
  invocations: 'STRATUS_INVOCATIONS',
} as const;

/**
 * A function's log stream: one stream per function (as a Lambda log group), so each keeps its
 * lines for its own time and size; agents publish batches of lines on logSubject().
 */
export function logStreamName(fn: string): string {
  return `STRATUS_LOGS_${fn}`;
}

/** Subject a function's log lines are published on. */
export function logSubject(fn: string): string {
  return `stratus.logs.${fn}`;
}

/** Subject a function's invocation records are published on. */
export function invocationSubject(fn: string): string {
  return `stratus.invocations.${fn}`;
}

/** Subject of a tenant's usage records of one month ("2026-12"). */
export function usageSubject(month: string, tenant: string): string {
  return `stratus.usage.${month}.${tenant}`;
}

/**
 * Name of a mapping's durable consumer (its checkpoint). The epoch grows each time a router
 * takes the mapping over: the new consumer starts at the old one's ack floor.
 */
export function mappingConsumerName(mappingId: string, epoch: number): string {
  return `esm-${mappingId}-${epoch}`;
}

/** Subject an async event for `fn` is published on. */
export function asyncSubject(fn: string): string {
  return `stratus.async.${fn}`;
}

/** Subject of `fn`'s dead letters. */
export function deadLetterSubject(fn: string): string {
  return `stratus.dlq.${fn}`;
}

/** Name of the durable consumer that delivers `fn`'s async events (one per function: no head-of-line blocking). */
export function asyncConsumerName(fn: string): string {
  return `async-${fn}`;
}

/** Name of the durable consumer of the events stream that feeds trigger `id` (one per trigger: each receives every matching event). */
export function triggerConsumerName(id: string): string {
  return `trigger-${id}`;
}

/** What the events stream captures while no trigger exists (a stream needs a subject; nothing publishes here). */
export const EVENTS_IDLE_SUBJECT = 'stratus.events.idle';

/** NATS message headers Stratus sets on async events. */
export const HEADERS = {
  requestId: 'Stratus-Request-Id',
  functionName: 'Stratus-Function',
  qualifier: 'Stratus-Qualifier',
  /** Epoch ms when the event was first accepted; the event's age counts from here. */
  enqueuedAt: 'Stratus-Enqueued-At',
  /** Function-error attempts made so far (a retry is republished with this raised). */
  attempt: 'Stratus-Attempt',
  /**
   * The recursion guard's count. On an async event: how many functions its invocation makes in
   * the call chain, itself included. On an event published through the API by a function: that
   * function's own count (absent when no function published it).
   */
  chainDepth: 'Stratus-Chain-Depth',
  /** Epoch ms before which a retried event must not run (its backoff). */
  notBefore: 'Stratus-Not-Before',
  /** Which entry point accepted the event: "async", or "<trigger|schedule|destination|redrive>:<id>" (invocation records). */
  origin: 'Stratus-Origin',
  /** The dead letter a redriven event came from. */
  redrivenFrom: 'Stratus-Redriven-From',
  condition: 'Stratus-Condition',
  /** On a dead letter: how its record's requestPayload turns back into the event's bytes ("json" or "text"). */
  payloadFormat: 'Stratus-Payload-Format',
} as const;

export const SUBJECTS = {
  /** Agents publish their AgentHeartbeat here (JSON) about once a second. */
  heartbeat: 'stratus.agents.heartbeat',
  /** An agent that stops publishes its id here so routers drop it at once. */
  agentGone: 'stratus.agents.gone',
  /** Routers publish their RouterHeartbeat here (JSON) and collect everyone's: how routers know each other. */
  routerHeartbeat: 'stratus.routers.heartbeat',
} as const;

/** KV key of a function's $LATEST record. */
export function functionKey(name: string): string {
  return `fn.${name}.latest`;
}

/** The function name inside a key from functionKey(), or undefined for other keys. */
export function functionNameFromKey(key: string): string | undefined {
  const match = /^fn\.([A-Za-z0-9_-]{1,64})\.latest$/.exec(key);
  return match?.[1];
}
