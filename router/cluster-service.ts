import type { ClusterServiceServer } from '../proto/gen/stratus/v1/cluster';
import type { ClusterView } from './cluster-view';
import { unary, type HandlerContext } from './grpc-handler';

/** ClusterService: the agents this router sees, with their capacity and warm instances. */
export function createClusterService(ctx: HandlerContext, view: ClusterView, routerId: string): ClusterServiceServer {
  return {
    getCluster: unary(ctx, 'stratus.ClusterService/GetCluster', async () => ({
      routerId,
      agents: view.heartbeats().map(({ hb, receivedAtMs }) => ({
        agentId: hb.agentId,
        address: hb.address,
        state: hb.state,
        memoryTotalMb: hb.memoryTotalMb,
        memoryFreeMb: hb.memoryFreeMb,
        slotsTotal: hb.slotsTotal,
        slotsFree: hb.slotsFree,
        functions: hb.functions.map((f) => ({ functionName: f.functionName, revisionId: f.revisionId, idle: f.idle, busy: f.busy, starting: f.starting })),
        lastHeartbeatMs: receivedAtMs,
      })),
    })),
  };
}
