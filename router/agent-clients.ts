import * as grpc from '@grpc/grpc-js';
import { LRUCache } from 'lru-cache';
import { AgentServiceClient, type AgentInvokeRequest, type AgentInvokeResponse } from '../proto/gen/stratus/v1/agent';
import { withBearer } from '../sdk/core/auth';
import { waitForChannelReady } from '../sdk/core/wire/grpc-channel';
import { LIMITS } from '../sdk/core/limits';
import { injectIntoMetadata } from '../sdk/core/trace-context';

/** Why a call to an agent did not produce a response. */
export type AgentCallFailure =
  /** The agent could not be reached; the request was never sent, so another agent may run it. */
  | { kind: 'unreachable'; error: Error }
  /** The request was sent and then failed: the function may have run. */
  | { kind: 'failed'; error: grpc.ServiceError };

/** gRPC clients for agents, one channel per address, closed when evicted. */
export class AgentClients {
  private readonly clients: LRUCache<string, AgentServiceClient>;

  constructor(
    private readonly clusterToken: string,
    maxAgents: number,
  ) {
    this.clients = new LRUCache<string, AgentServiceClient>({ max: maxAgents, dispose: (client) => client.close() });
  }

  /**
   * Invokes on the agent at `address`. The channel is made ready first (bounded by
   * `connectTimeoutMs`), so "unreachable" reliably means nothing was sent.
   */
  async invoke(address: string, request: AgentInvokeRequest, deadlineMs: number, connectTimeoutMs: number): Promise<AgentInvokeResponse | AgentCallFailure> {
    const client = this.client(address);
    if (!(await waitForChannelReady(client.getChannel(), Math.min(deadlineMs, Date.now() + connectTimeoutMs)))) {
      return { kind: 'unreachable', error: new Error(`cannot connect to agent at ${address}`) };
    }
    const metadata = injectIntoMetadata(withBearer(new grpc.Metadata(), this.clusterToken));
    return new Promise((resolve) => {
      client.invoke(request, metadata, { deadline: deadlineMs }, (err, response) => {
        if (err) resolve({ kind: 'failed', error: err });
        else resolve(response);
      });
    });
  }

  /** Closes every channel. */
  close(): void {
    this.clients.clear();
  }

  private client(address: string): AgentServiceClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new AgentServiceClient(address, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': LIMITS.maxGrpcMessageBytes,
        'grpc.max_send_message_length': LIMITS.maxGrpcMessageBytes,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      });
      this.clients.set(address, client);
    }
    return client;
  }
}
