import { StratusError } from '../../sdk/core/errors';
import { parseHeartbeatJson } from '../../sdk/platform/heartbeat';

/** Lifecycle of a router as other routers and `stratus cluster` see it. */
export type RouterState = 'ready' | 'stopping';

/** What a router announces on SUBJECTS.routerHeartbeat, so every router (and operators) know the others. */
export interface RouterHeartbeat {
  routerId: string;
  /** host:port of the router's gRPC API, as clients should dial it. */
  address: string;
  /** Port of the HTTP gateway and health endpoints, or -1 when disabled. */
  httpPort: number;
  state: RouterState;
  /** Agents this router currently sees: a router that sees fewer than its peers has a NATS problem. */
  agents: number;
  /** Increases with every heartbeat of one router process; a restart resets it with a new bootId. */
  seq: number;
  bootId: string;
  startedAtMs: number;
  sentAtMs: number;
  /** How often the router promises to publish; others expire it after a few missed intervals. */
  intervalMs: number;
}

/** Encodes a router heartbeat for the wire. */
export function encodeRouterHeartbeat(hb: RouterHeartbeat): Uint8Array {
  return Buffer.from(JSON.stringify(hb));
}

/** Decodes and checks a router heartbeat; throws InvalidRequest on anything malformed. */
export function decodeRouterHeartbeat(data: Uint8Array): RouterHeartbeat {
  const hb = parseHeartbeatJson(data, 'router heartbeat') as Partial<RouterHeartbeat>;
  if (
    typeof hb?.routerId !== 'string' ||
    typeof hb.address !== 'string' ||
    typeof hb.seq !== 'number' ||
    typeof hb.bootId !== 'string' ||
    typeof hb.intervalMs !== 'number' ||
    (hb.state !== 'ready' && hb.state !== 'stopping')
  ) {
    throw new StratusError('InvalidRequest', 'router heartbeat is missing required fields');
  }
  return hb as RouterHeartbeat;
}
