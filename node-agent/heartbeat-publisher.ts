import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { encodeHeartbeat, type AgentHeartbeat } from '../sdk/platform/heartbeat';
import { SUBJECTS } from '../sdk/platform/nats-layout';

/** Options for {@link HeartbeatPublisher}. */
export interface HeartbeatPublisherOptions {
  intervalMs: number;
  /** A change is published this long after it happens, so a burst of instance changes is one message. */
  coalesceMs: number;
  /**
   * Change heartbeats are at least this far apart. Under steady load instances flip between busy
   * and idle thousands of times a second; every heartbeat costs this agent an encode and every
   * router a decode and re-index, so their rate must not grow with the invocation rate (routers
   * book their own dispatches in between). The first change after a quiet spell still goes out
   * after `coalesceMs`.
   */
  minChangeIntervalMs: number;
  /** Builds the current heartbeat (without seq, bootId, sentAtMs, intervalMs). */
  snapshot: () => Omit<AgentHeartbeat, 'seq' | 'bootId' | 'sentAtMs' | 'intervalMs'>;
}

/**
 * Advertises the agent's capacity on NATS: on a fixed interval so routers can expire a silent
 * agent, and soon after every change so placement sees new idle instances at once.
 */
export class HeartbeatPublisher {
  private readonly bootId = randomUUID();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private pendingChange: NodeJS.Timeout | undefined;
  private lastChangeAt = -Infinity;
  /** Heartbeats published since start. */
  published = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: HeartbeatPublisherOptions,
  ) {}

  /** Publishes one heartbeat now and then every interval. */
  start(): void {
    this.publish();
    this.timer = setInterval(() => this.publish(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Something changed: publish soon. */
  poke(): void {
    if (this.pendingChange || !this.timer) return;
    const delay = Math.max(this.options.coalesceMs, this.lastChangeAt + this.options.minChangeIntervalMs - performance.now());
    this.pendingChange = setTimeout(() => {
      this.pendingChange = undefined;
      this.lastChangeAt = performance.now();
      this.publish();
    }, delay);
    this.pendingChange.unref();
  }

  /** Publishes one last heartbeat (e.g. "draining"), then stops. */
  stop(finalState?: AgentHeartbeat['state']): void {
    clearInterval(this.timer);
    clearTimeout(this.pendingChange);
    this.timer = undefined;
    if (finalState) this.publish(finalState);
  }

  /** Tells routers this agent is gone, so they need not wait for its heartbeats to expire. */
  announceGone(agentId: string): void {
    this.nc.publish(SUBJECTS.agentGone, agentId);
  }

  private publish(stateOverride?: AgentHeartbeat['state']): void {
    const snap = this.options.snapshot();
    const hb: AgentHeartbeat = {
      ...snap,
      state: stateOverride ?? snap.state,
      seq: ++this.seq,
      bootId: this.bootId,
      sentAtMs: Date.now(),
      intervalMs: this.options.intervalMs,
    };
    if (this.nc.isClosed()) return;
    this.nc.publish(SUBJECTS.heartbeat, encodeHeartbeat(hb));
    this.published += 1;
  }
}
