import type { ClusterServiceServer } from '../../proto/gen/stratus/v1/cluster';
import type { ClusterView } from './cluster-view';
import { unary, type HandlerContext } from '../grpc-handler';
import type { Principal } from '../../sdk/core/identity';
import type { RouterView } from './router-view';

/** What the cluster API reports from; main.ts wires it. */
export interface ClusterServiceDeps {
  /** Agents, from agent heartbeats. */
  view: ClusterView;
  /** Routers, from router heartbeats. */
  routers: RouterView;
  routerId: string;
  /** Replicas this router gives what it creates in JetStream. */
  replicas: number;
  /** Whether `caller` may see that a function runs (its tenant's, or granted). */
  functionVisible: (caller: Principal, functionName: string) => Promise<boolean>;
}

/** ClusterService: the agents and routers this router sees, with the agents' capacity and warm instances. */
export function createClusterService(ctx: HandlerContext, deps: ClusterServiceDeps): ClusterServiceServer {
  const { view, routers, routerId, replicas } = deps;
  return {
    getCluster: unary(ctx, 'stratus.ClusterService/GetCluster', async (_req, _span, caller) => {
      await ctx.access.authorize(caller, 'cluster:read', { kind: 'cluster', name: 'cluster', tenant: undefined });
      // Capacity is everyone's to see; which functions run where is each function's tenant's.
      const mayRead = new Map<string, boolean>();
      for (const { hb } of view.heartbeats()) for (const f of hb.functions) if (!mayRead.has(f.functionName)) mayRead.set(f.functionName, await deps.functionVisible(caller, f.functionName));
      return {
      routerId,
      replicas,
      agents: view.heartbeats().map(({ hb, receivedAtMs }) => ({
        agentId: hb.agentId,
        address: hb.address,
        state: hb.state,
        memoryTotalMb: hb.memoryTotalMb,
        memoryFreeMb: hb.memoryFreeMb,
        slotsTotal: hb.slotsTotal,
        slotsFree: hb.slotsFree,
        functions: hb.functions.filter((f) => mayRead.get(f.functionName)).map((f) => ({ functionName: f.functionName, revisionId: f.revisionId, idle: f.idle, busy: f.busy, starting: f.starting })),
        lastHeartbeatMs: receivedAtMs,
      })),
      routers: routers.routers().map(({ hb, receivedAtMs }) => ({
        routerId: hb.routerId,
        address: hb.address,
        state: hb.state,
        httpPort: hb.httpPort,
        agents: hb.agents,
        startedMs: hb.startedAtMs,
        lastHeartbeatMs: receivedAtMs,
      })),
      };
    }),
  };
}
