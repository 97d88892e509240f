import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Throws unless a process running as uid/gid can pass through every folder from / down to `dir`:
 * bubblewrap runs as that unprivileged user and must reach the code folders it mounts.
 */
export async function assertTraversable(dir: string, uid: number, gid: number): Promise<void> {
  let current = path.resolve(dir);
  const chain: string[] = [];
  while (current !== path.dirname(current)) {
    chain.unshift(current);
    current = path.dirname(current);
  }
  for (const folder of chain) {
    const st = await fs.stat(folder);
    const ok = (st.mode & 0o001) !== 0 || (st.uid === uid && (st.mode & 0o100) !== 0) || (st.gid === gid && (st.mode & 0o010) !== 0);
    if (!ok) {
      throw new Error(
        `the sandbox user (uid ${uid}) cannot pass through ${folder} to reach the agent's data directory ${dir}: run chmod o+x ${folder}, or set STRATUS_DATA_DIR to a folder under one it can reach (e.g. /var/lib/stratus)`,
      );
    }
  }
}

/**
 * Copies the built-in runtimes next to the code the agent serves, so sandboxes can mount them
 * wherever the agent itself was installed (an installation folder may be closed to other users).
 */
export async function stageRuntimes(from: string, dataDir: string): Promise<string> {
  const to = path.join(dataDir, 'runtimes');
  await fs.rm(to, { recursive: true, force: true });
  await fs.cp(from, to, { recursive: true, filter: (src) => !src.endsWith('.map') });
  await fs.chmod(to, 0o755);
  return to;
}
