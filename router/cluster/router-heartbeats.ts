import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from '../../sdk/platform/logger';
import { SUBJECTS } from '../../sdk/platform/nats-layout';
import { decodeRouterHeartbeat, encodeRouterHeartbeat, type RouterHeartbeat, type RouterState } from './router-heartbeat';
import type { RouterView } from './router-view';

/** What {@link RouterHeartbeats} works with; main.ts wires it. */
export interface RouterHeartbeatsDeps {
  nc: NatsConnection;
  /** Where every router's heartbeats (this one's included) go. */
  view: RouterView;
  logger: Logger;
}

/** Options for {@link RouterHeartbeats}. */
export interface RouterHeartbeatsOptions {
  intervalMs: number;
  /** This router's heartbeat without the fields the publisher fills in. */
  snapshot: () => Omit<RouterHeartbeat, 'seq' | 'bootId' | 'sentAtMs' | 'intervalMs' | 'state' | 'startedAtMs'>;
}

/**
 * Announces this router on NATS every interval and feeds every router's announcements (its own
 * included) into a RouterView. Core NATS, no JetStream: a missed heartbeat only delays the view.
 */
export class RouterHeartbeats {
  private readonly bootId = randomUUID();
  private readonly startedAtMs = Date.now();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private malformed = 0;

  constructor(
    private readonly deps: RouterHeartbeatsDeps,
    private readonly options: RouterHeartbeatsOptions,
  ) {}

  /** Subscribes, publishes one heartbeat now and then every interval. */
  start(): void {
    const sub = this.deps.nc.subscribe(SUBJECTS.routerHeartbeat, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.deps.view.apply(decodeRouterHeartbeat(msg.data));
        } catch (e) {
          if (this.malformed++ % 100 === 0) this.deps.logger.warn('malformed router heartbeat ignored', { err: e, malformed: this.malformed });
        }
      },
    });
    this.unsubscribe = () => sub.unsubscribe();
    this.publish('ready');
    this.timer = setInterval(() => this.publish('ready'), this.options.intervalMs);
    this.timer.unref();
  }

  /** Says "stopping" once (others drop this router at once) and stops publishing and listening. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.publish('stopping');
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private publish(state: RouterState): void {
    if (this.deps.nc.isClosed()) return;
    const hb: RouterHeartbeat = {
      ...this.options.snapshot(),
      state,
      seq: ++this.seq,
      bootId: this.bootId,
      startedAtMs: this.startedAtMs,
      sentAtMs: Date.now(),
      intervalMs: this.options.intervalMs,
    };
    this.deps.nc.publish(SUBJECTS.routerHeartbeat, encodeRouterHeartbeat(hb));
  }
}
