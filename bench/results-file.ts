import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Writes a benchmark run to bench/results/<prefix><time>.json with the machine it ran on, so a
 * figure can always be read next to what produced it. Returns the file's path.
 */
export function writeResults(prefix: string, quick: boolean, rows: unknown[]): string {
  const outDir = path.resolve(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${prefix}${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGb: Math.round(os.totalmem() / 1024 ** 3), node: process.version, kernel: os.release() };
  writeFileSync(file, `${JSON.stringify({ machine, quick, rows }, null, 2)}\n`);
  return file;
}
