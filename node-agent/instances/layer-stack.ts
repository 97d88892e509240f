import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ResolvedLayer } from '../../sdk/core/function-config';
import type { CodeCache } from './code-cache';

/**
 * A function's layers merged into one folder, as Lambda unpacks them into /opt: in order, a later
 * layer's file replacing an earlier one's. Merged folders are keyed by the ordered layer digests,
 * so functions with the same layers share one.
 */
export class LayerStack {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly codeCache: CodeCache,
    private readonly dir: string,
  ) {}

  /** The merged folder for `layers`, or undefined when there are none. */
  async ensure(layers: readonly ResolvedLayer[]): Promise<string | undefined> {
    if (layers.length === 0) return undefined;
    const key = createHash('sha256').update(layers.map((l) => l.code.sha256).join('\n')).digest('hex');
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.merge(key, layers).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async merge(key: string, layers: readonly ResolvedLayer[]): Promise<string> {
    const target = path.join(this.dir, key);
    if (await fs.stat(target).then(() => true, () => false)) return target;
    await fs.mkdir(this.dir, { recursive: true, mode: 0o711 });
    const work = path.join(this.dir, `.tmp-${randomUUID()}`);
    await fs.mkdir(work, { mode: 0o755 });
    try {
      for (const layer of layers) {
        const unpacked = await this.codeCache.ensure(layer.code);
        await fs.cp(unpacked, work, { recursive: true, force: true, preserveTimestamps: true });
      }
      await fs.rename(work, target);
    } catch (err) {
      await fs.rm(work, { recursive: true, force: true });
      throw err;
    }
    return target;
  }
}
