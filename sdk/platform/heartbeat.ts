import { StratusError } from '../core/errors';

/** Lifecycle of an agent as seen by routers. */
export type AgentState = 'ready' | 'draining';

/** Warm instances an agent holds for one function revision. */
export interface WarmCount {
  functionName: string;
  revisionId: string;
  idle: number;
  busy: number;
  starting: number;
}

/** What an agent advertises on SUBJECTS.heartbeat: its capacity and its warm instances. */
export interface AgentHeartbeat {
  agentId: string;
  /** host:port of the agent's gRPC endpoint, as routers should dial it. */
  address: string;
  state: AgentState;
  /** Increases with every heartbeat of one agent process; a restart resets it with a new bootId. */
  seq: number;
  bootId: string;
  sentAtMs: number;
  /** How often the agent promises to publish; routers expire it after a few missed intervals. */
  intervalMs: number;
  memoryTotalMb: number;
  memoryFreeMb: number;
  /** Memory held by idle instances, which the agent stops to make room for other functions. */
  idleMemoryMb: number;
  slotsTotal: number;
  slotsFree: number;
  /** Disk for instances' /tmp not yet booked, MB; absent where /tmp is memory (a tmpfs). */
  diskFreeMb?: number;
  functions: WarmCount[];
}

/** Encodes a heartbeat for the wire. */
export function encodeHeartbeat(hb: AgentHeartbeat): Uint8Array {
  return Buffer.from(JSON.stringify(hb));
}

/** Parses a JSON heartbeat message (an agent's or a router's); throws InvalidRequest naming `what`. */
export function parseHeartbeatJson(data: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch (cause) {
    throw new StratusError('InvalidRequest', `${what} is not JSON`, { cause });
  }
}

/** Decodes and checks a heartbeat; throws InvalidRequest on anything malformed. */
export function decodeHeartbeat(data: Uint8Array): AgentHeartbeat {
  const hb = parseHeartbeatJson(data, 'heartbeat') as Partial<AgentHeartbeat>;
  if (
    typeof hb?.agentId !== 'string' ||
    typeof hb.address !== 'string' ||
    typeof hb.seq !== 'number' ||
    typeof hb.intervalMs !== 'number' ||
    typeof hb.slotsFree !== 'number' ||
    typeof hb.memoryFreeMb !== 'number' ||
    !Array.isArray(hb.functions)
  ) {
    throw new StratusError('InvalidRequest', 'heartbeat is missing required fields');
  }
  return hb as AgentHeartbeat;
}
