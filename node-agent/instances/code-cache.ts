import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LRUCache } from 'lru-cache';
import { extractBundle } from '../../sdk/platform/bundle';
import type { CodeStore } from '../../sdk/platform/code-store';
import type { CodeRef } from '../../sdk/core/function-config';
import { LIMITS } from '../../sdk/core/limits';
import type { Logger } from '../../sdk/platform/logger';

/** Options for {@link CodeCache}. */
export interface CodeCacheOptions {
  /** Folder for unpacked bundles (inside the agent's data directory). */
  dir: string;
  /** Unpacked bytes kept on disk before the least recently used bundles are removed. */
  maxBytes: number;
  /** Whether a bundle is in use by a live instance; such a bundle is never removed. */
  inUse: (sha256: string) => boolean;
  /** Where failures to remove an evicted bundle are reported (the folder is then left behind). */
  logger: Logger;
}

/**
 * Unpacked code bundles on the agent's disk, fetched from the Object Store on first use.
 * Concurrent cold starts of one bundle share a single download.
 */
export class CodeCache {
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly lru: LRUCache<string, string>;

  constructor(
    private readonly store: CodeStore,
    private readonly options: CodeCacheOptions,
  ) {
    this.lru = new LRUCache<string, string>({
      maxSize: options.maxBytes,
      sizeCalculation: (_dir, sha) => Math.max(1, this.sizes.get(sha) ?? 1),
      dispose: (dir, sha) => {
        this.sizes.delete(sha);
        if (!this.options.inUse(sha)) {
          fs.rm(dir, { recursive: true, force: true }).catch((err: unknown) =>
            this.options.logger.warn('could not remove an evicted code bundle', { dir, error: (err as Error).message }),
          );
        }
      },
    });
  }

  private readonly sizes = new Map<string, number>();

  /** The folder holding `code` unpacked, downloading and unpacking it first when needed. */
  async ensure(code: CodeRef): Promise<string> {
    const cached = this.lru.get(code.sha256);
    if (cached) return cached;
    let pending = this.inflight.get(code.sha256);
    if (!pending) {
      pending = this.fetch(code).finally(() => this.inflight.delete(code.sha256));
      this.inflight.set(code.sha256, pending);
    }
    return pending;
  }

  private async fetch(code: CodeRef): Promise<string> {
    const dir = path.join(this.options.dir, code.sha256);
    // Bundles are unpacked elsewhere and renamed into place, so an existing folder is complete.
    const exists = await fs.stat(dir).then(() => true, () => false);
    if (!exists) {
      const work = path.join(this.options.dir, `.tmp-${randomUUID()}`);
      await fs.mkdir(work, { recursive: true });
      try {
        const archive = path.join(work, 'bundle');
        const unpacked = path.join(work, 'code');
        await fs.mkdir(unpacked);
        await this.store.getToFile(code.sha256, archive);
        await extractBundle(archive, unpacked, LIMITS.maxUnpackedBytes);
        await fs.rm(dir, { recursive: true, force: true });
        await fs.rename(unpacked, dir);
      } finally {
        await fs.rm(work, { recursive: true, force: true });
      }
    }
    this.sizes.set(code.sha256, code.unpackedSize);
    this.lru.set(code.sha256, dir);
    return dir;
  }
}
