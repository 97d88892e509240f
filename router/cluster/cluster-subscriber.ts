import type { NatsConnection } from '@nats-io/nats-core';
import { decodeHeartbeat } from '../../sdk/platform/heartbeat';
import type { Logger } from '../../sdk/platform/logger';
import { SUBJECTS } from '../../sdk/platform/nats-layout';
import type { ClusterView } from './cluster-view';

/** Feeds agent heartbeats and departures from NATS into the cluster view. Returns a stop function. */
export function subscribeCluster(nc: NatsConnection, view: ClusterView, logger: Logger): () => void {
  let malformed = 0;
  const beats = nc.subscribe(SUBJECTS.heartbeat, {
    callback: (err, msg) => {
      if (err) return;
      try {
        view.applyHeartbeat(decodeHeartbeat(msg.data));
      } catch (e) {
        // Counted, and logged once per hundred, so a misbehaving publisher cannot flood the log.
        if (malformed++ % 100 === 0) logger.warn('malformed heartbeat ignored', { err: e, malformed });
      }
    },
  });
  const gone = nc.subscribe(SUBJECTS.agentGone, { callback: (err, msg) => (err ? undefined : view.remove(msg.string())) });
  return () => {
    beats.unsubscribe();
    gone.unsubscribe();
  };
}
