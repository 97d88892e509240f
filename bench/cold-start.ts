import { spawn } from 'node:child_process';
import type { StratusClient } from '../sdk/client/stratus-client';
import { functionFolder } from './bench-cluster';
import { summarize, type LatencyStats } from './stats';

/** No-op functions per runtime, as a user would write them. */
export const NOOP_FUNCTIONS: Record<'nodejs' | 'python' | 'provided', { files: Record<string, string>; handler: string }> = {
  nodejs: { files: { 'index.js': 'exports.handler = async (event) => event;' }, handler: 'index.handler' },
  python: { files: { 'app.py': 'def handler(event, context):\n    return event\n' }, handler: 'app.handler' },
  provided: {
    files: {
      bootstrap: `#!/bin/sh
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  H=$(mktemp); E=$(curl -sS -D "$H" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$H" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$ID/response" -d "$E" >/dev/null; rm -f "$H"
done
`,
    },
    handler: 'bootstrap',
  },
};

/**
 * Invoke-to-response on a new instance each time: every round changes the configuration, so no
 * instance can be reused. `pauseMs` waits before each round (so an agent's pre-started runtimes are
 * back in its pool); `initMs`, when given, collects each round's reported init duration.
 */
export async function measureColdStarts(
  client: StratusClient,
  runtime: keyof typeof NOOP_FUNCTIONS,
  rounds: number,
  options: { pauseMs?: number; initMs?: number[] } = {},
): Promise<LatencyStats> {
  const name = `cold-${runtime}-${Date.now()}`;
  const fn = NOOP_FUNCTIONS[runtime];
  await client.deploy({ name, source: functionFolder(fn.files), settings: { runtime, handler: fn.handler } });
  await client.invoke(name, '{}');
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < rounds; i += 1) {
    await client.updateFunctionConfiguration(name, { environment: { ROUND: String(i) } });
    if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    const t0 = performance.now();
    const res = await client.invoke(name, '{"cold":true}');
    samples.push(performance.now() - t0);
    if (options.initMs && res.report?.initDurationMs !== undefined) options.initMs.push(res.report.initDurationMs);
    if (res.functionError) throw new Error(`${runtime} cold start failed: ${res.functionError.errorType}: ${res.functionError.errorMessage}`);
    if (!res.report?.coldStart) throw new Error(`${runtime} round ${i} was not a cold start`);
  }
  // The pauses are not part of the rate.
  return summarize(samples, performance.now() - start - rounds * (options.pauseMs ?? 0));
}

/**
 * A warm invoke after the same pause a pre-started cold start round waits: the floor a cold start
 * after an idle spell cannot go under here (every hop wakes an idle process, which on this VM
 * costs far more than on a busy one).
 */
export async function measureWarmAfterPause(client: StratusClient, runtime: keyof typeof NOOP_FUNCTIONS, rounds: number, pauseMs: number): Promise<LatencyStats> {
  const name = `warm-${runtime}-${Date.now()}`;
  const fn = NOOP_FUNCTIONS[runtime];
  await client.deploy({ name, source: functionFolder(fn.files), settings: { runtime, handler: fn.handler } });
  await client.invoke(name, '{}');
  const samples: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    await new Promise((r) => setTimeout(r, pauseMs));
    const t0 = performance.now();
    const res = await client.invoke(name, '{"warm":true}');
    samples.push(performance.now() - t0);
    if (res.report?.coldStart) throw new Error(`${runtime} round ${i} of the warm reference was a cold start`);
  }
  return summarize(samples, samples.reduce((a, b) => a + b, 0));
}

/** Baseline: spawning the bare runtime to its first output byte. */
export async function measureBareSpawn(command: string, args: string[], rounds: number): Promise<LatencyStats> {
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < rounds; i += 1) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      child.once('error', reject);
      child.stdout.once('data', () => {
        samples.push(performance.now() - t0);
        resolve();
      });
    });
  }
  return summarize(samples, performance.now() - start);
}
