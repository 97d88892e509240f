import type { Command } from 'commander';
import type { CliContext } from '../context';

/** `stratus cluster`: the agents a router sees, their capacity and warm instances, and the routers. */
export function registerClusterCommand(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  program
    .command('cluster')
    .description('show the agents, their capacity and warm instances, and the routers')
    .action(() =>
      run(async ({ out, client }) => {
        const cluster = await (await client()).getCluster();
        if (out.json) return out.printJson(cluster);
        out.line(`router ${cluster.routerId} sees ${cluster.agents.length} agent(s) and ${cluster.routers.length} router(s); JetStream replicas ${cluster.replicas || '?'}`);
        out.printTable(
          ['AGENT', 'ADDRESS', 'STATE', 'MEMORY FREE', 'SLOTS FREE', 'WARM (idle/busy)', 'LAST HEARTBEAT'],
          cluster.agents.map((a) => [
            a.agentId,
            a.address,
            a.state,
            `${a.memoryFreeMb}/${a.memoryTotalMb} MB`,
            `${a.slotsFree}/${a.slotsTotal}`,
            a.functions.map((f) => `${f.functionName} ${f.idle}/${f.busy}`).join(', ') || '-',
            `${Math.max(0, Date.now() - a.lastHeartbeatMs)} ms ago`,
          ]),
        );
        out.printTable(
          ['ROUTER', 'ADDRESS', 'STATE', 'HTTP PORT', 'AGENTS SEEN', 'UP SINCE', 'LAST HEARTBEAT'],
          cluster.routers.map((r) => [
            r.routerId === cluster.routerId ? `${r.routerId} (answering)` : r.routerId,
            r.address,
            r.state,
            r.httpPort >= 0 ? String(r.httpPort) : '-',
            String(r.agents),
            new Date(r.startedMs).toISOString(),
            `${Math.max(0, Date.now() - r.lastHeartbeatMs)} ms ago`,
          ]),
        );
      }),
    );
}
