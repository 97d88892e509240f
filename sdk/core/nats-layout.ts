/**
 * Where Stratus keeps its state in NATS: bucket and subject names in one place,
 * so every component (and an operator's NATS permissions) agree on them.
 */
export const BUCKETS = {
  /** JetStream KV: function configurations, keyed by functionKey(). */
  functions: 'stratus_functions',
  /** JetStream Object Store: code bundles and layers, named by sha256. */
  code: 'stratus_code',
} as const;

export const SUBJECTS = {
  /** Agents publish their AgentHeartbeat here (JSON) about once a second. */
  heartbeat: 'stratus.agents.heartbeat',
  /** An agent that stops publishes its id here so routers drop it at once. */
  agentGone: 'stratus.agents.gone',
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
