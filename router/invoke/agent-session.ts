import { status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type { AgentInvokeRequest, AgentInvokeResponse, AgentSessionRequest, AgentSessionResponse } from '../../proto/gen/stratus/v1/agent';

/** The router's end of an agent session: grpc-js's bidirectional stream for AgentService/Session. */
export type SessionStream = ClientDuplexStream<AgentSessionRequest, AgentSessionResponse>;

/** Why an invocation on an agent produced no answer. */
export type AgentCallFailure =
  /** The agent could not be reached; nothing was sent, so another agent may run it. */
  | { kind: 'unreachable'; error: Error }
  /** The agent refused the session itself (e.g. a wrong cluster token); nothing ran. */
  | { kind: 'rejected'; error: ServiceError }
  /** The invocation was sent and then the stream broke: the function may have run. */
  | { kind: 'lost'; error: Error }
  /** The invocation was sent and its deadline passed first; the agent was told to drop it. */
  | { kind: 'deadline' }
  /** The invocation was sent and the caller gave up; the agent was told to drop it. */
  | { kind: 'cancelled' };

/** Lifecycle of a session; changed only by AgentSession.setState. */
export type AgentSessionState = 'opening' | 'open' | 'closed';

interface Pending {
  settle: (outcome: AgentInvokeResponse | AgentCallFailure) => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const MAX_CALL_ID = 0xffff_ffff;

/**
 * Multiplexes invocations over one long-lived stream to one agent: each invocation frame carries
 * a call id, and the agent's answer frame carries it back. Invariants: an invocation settles
 * exactly once; when the stream breaks, every invocation in flight on it settles as `lost` (it
 * may have run, so it must not be re-run elsewhere); a session never reopens — the owner opens
 * a new one.
 */
export class AgentSession {
  state: AgentSessionState = 'opening';
  private readonly pending = new Map<number, Pending>();
  private nextCallId = 1;
  private readonly opened: Promise<AgentCallFailure | undefined>;
  private markOpened!: (failure: AgentCallFailure | undefined) => void;

  constructor(
    private readonly stream: SessionStream,
    /** Names the agent in error messages. */
    private readonly label: string,
  ) {
    this.opened = new Promise((resolve) => (this.markOpened = resolve));
    stream.on('data', (frame: AgentSessionResponse) => this.onFrame(frame));
    // grpc-js emits 'error' for a non-OK status, then 'status'; 'status' alone for OK.
    stream.on('error', (err: ServiceError) => this.onEnd(err));
    stream.on('status', (s: { code: status; details: string }) => this.onEnd(new Error(`agent session to ${label} ended: ${s.details || status[s.code]}`)));
  }

  /** How many invocations are waiting for an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Resolves undefined once the agent accepted the session, or with why it did not (by
   * `untilMs` at the latest, as unreachable).
   */
  waitOpen(untilMs: number): Promise<AgentCallFailure | undefined> {
    if (this.state === 'open') return Promise.resolve(undefined);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<AgentCallFailure>((resolve) => {
      timer = setTimeout(() => {
        // An agent that took the connection but never said ready (stuck, or a half-open socket) would
        // otherwise hold this session in 'opening' and make every later call wait out the timeout.
        if (this.state === 'opening') this.close();
        resolve({ kind: 'unreachable', error: new Error(`cannot connect to agent at ${this.label}: no session within the connect timeout`) });
      }, Math.max(0, untilMs - Date.now()));
      timer.unref();
    });
    return Promise.race([this.opened, timedOut]).finally(() => clearTimeout(timer));
  }

  /**
   * Sends one invocation and resolves with the agent's answer or why there is none. At
   * `deadlineMs`, or when `signal` aborts, it settles at once and a cancel frame tells the agent.
   */
  invoke(request: AgentInvokeRequest, deadlineMs: number, signal?: AbortSignal): Promise<AgentInvokeResponse | AgentCallFailure> {
    if (this.state !== 'open') return Promise.resolve({ kind: 'unreachable', error: new Error(`the session to agent ${this.label} is not open`) });
    if (signal?.aborted) return Promise.resolve({ kind: 'cancelled' });
    const callId = this.takeCallId();
    return new Promise((settle) => {
      const timer = setTimeout(() => this.giveUp(callId, { kind: 'deadline' }), Math.max(0, deadlineMs - Date.now()));
      timer.unref();
      const onAbort = signal ? (): void => this.giveUp(callId, { kind: 'cancelled' }) : undefined;
      if (signal && onAbort) signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(callId, { settle, timer, signal, onAbort });
      this.stream.write({ callId, frame: { $case: 'invoke', value: request } });
    });
  }

  /** Ends the session; invocations in flight settle as lost. */
  close(): void {
    if (this.state === 'closed') return;
    this.stream.cancel();
    this.onEnd(new Error(`the session to agent ${this.label} was closed by the router`));
  }

  private takeCallId(): number {
    // Ids wrap after 2^32 invocations; one still in flight from the previous lap is skipped.
    do {
      this.nextCallId = this.nextCallId >= MAX_CALL_ID ? 1 : this.nextCallId + 1;
    } while (this.pending.has(this.nextCallId));
    return this.nextCallId;
  }

  private onFrame(frame: AgentSessionResponse): void {
    const f = frame.frame;
    if (f?.$case === 'ready') {
      this.setState('open');
      this.markOpened(undefined);
      return;
    }
    if (f?.$case !== 'response') return;
    const p = this.finish(frame.callId);
    p?.settle(f.value);
  }

  private giveUp(callId: number, failure: AgentCallFailure): void {
    const p = this.finish(callId);
    if (!p) return;
    if (this.state === 'open') this.stream.write({ callId, frame: { $case: 'cancel', value: {} } });
    p.settle(failure);
  }

  private finish(callId: number): Pending | undefined {
    const p = this.pending.get(callId);
    if (!p) return undefined;
    this.pending.delete(callId);
    clearTimeout(p.timer);
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    return p;
  }

  private onEnd(err: Error): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.setState('closed');
    if (!wasOpen) {
      const e = err as Partial<ServiceError>;
      // A connection that failed is unreachable; a session the agent turned down is not.
      const rejected = e.code === status.UNAUTHENTICATED || e.code === status.PERMISSION_DENIED || e.code === status.UNIMPLEMENTED;
      this.markOpened(rejected ? { kind: 'rejected', error: err as ServiceError } : { kind: 'unreachable', error: err });
    }
    const lost: AgentCallFailure = { kind: 'lost', error: err };
    for (const callId of [...this.pending.keys()]) this.finish(callId)?.settle(lost);
  }

  private setState(next: AgentSessionState): void {
    if (this.state === 'closed') return;
    this.state = next;
  }
}
