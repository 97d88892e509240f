/**
 * What logging costs a warm invocation, against the same invocation without a line, in one run:
 * every line goes through the agent's log shipper to the function's log stream (JetStream), so
 * this is the whole price a function pays for `console.log` — on the invoke path it should be
 * near nothing, since the shipper never makes the invocation wait.
 */
import type { StratusClient } from '../sdk/client/stratus-client';
import { functionFolder, type BenchCluster } from './bench-cluster';
import { measure, medianRound, type LatencyStats } from './stats';

export interface LoggingFigures {
  silent: LatencyStats;
  oneLine: LatencyStats;
  hundredLines: LatencyStats;
}

export async function measureLogging(bench: BenchCluster, n: number): Promise<LoggingFigures> {
  const { client } = bench;
  const handler = 'exports.handler = async (e) => { for (let i = 0; i < e.lines; i += 1) console.log("request handled", i, e.id); return e.id; };';
  await client.deploy({ name: 'log-bench', source: functionFolder({ 'index.js': handler }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
  const invoke = (c: StratusClient, lines: number) => async (): Promise<void> => {
    const r = await c.invoke('log-bench', JSON.stringify({ lines, id: 'abc' }));
    if (r.functionError) throw new Error(r.functionError.errorMessage);
  };
  for (const lines of [0, 1, 100]) await measure(300, 1, invoke(client, lines));
  // Alternating rounds on one warm instance, so drift in the machine's load falls on all alike.
  const rounds: Record<'silent' | 'oneLine' | 'hundredLines', LatencyStats[]> = { silent: [], oneLine: [], hundredLines: [] };
  for (let round = 0; round < 5; round += 1) {
    rounds.silent.push(await measure(Math.ceil(n / 5), 1, invoke(client, 0)));
    rounds.oneLine.push(await measure(Math.ceil(n / 5), 1, invoke(client, 1)));
    rounds.hundredLines.push(await measure(Math.ceil(n / 5), 1, invoke(client, 100)));
  }
  return { silent: medianRound(rounds.silent), oneLine: medianRound(rounds.oneLine), hundredLines: medianRound(rounds.hundredLines) };
}
