import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from '@nats-io/obj';
import { StratusError } from './errors';

/**
 * Code bundles in the JetStream Object Store, content-addressed: the object's name is the
 * bundle's sha256, so the same bundle is stored once however many functions use it.
 */
export class CodeStore {
  constructor(private readonly store: ObjectStore) {}

  /** Whether a bundle with this digest is stored. */
  async has(sha256: string): Promise<boolean> {
    const info = await this.store.info(sha256);
    return info !== null && !info.deleted;
  }

  /** Stores a local file under its digest unless already there; returns whether it was already stored. */
  async putFile(file: string, sha256: string): Promise<{ alreadyStored: boolean }> {
    if (await this.has(sha256)) return { alreadyStored: true };
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    await this.store.put({ name: sha256, description: 'code bundle' }, body);
    return { alreadyStored: false };
  }

  /** Writes the bundle to `file`, verifying its digest; throws CodeNotFound when absent. */
  async getToFile(sha256: string, file: string): Promise<void> {
    const result = await this.store.get(sha256);
    if (!result) throw new StratusError('CodeNotFound', `code bundle ${sha256} is not in the store: deploy the function's code again`);
    const hash = createHash('sha256');
    const source = Readable.fromWeb(result.data as import('node:stream/web').ReadableStream<Uint8Array>);
    source.on('data', (chunk: Buffer) => hash.update(chunk));
    await pipeline(source, createWriteStream(file));
    const failure = await result.error;
    if (failure) throw new StratusError('ServiceUnavailable', `reading code bundle ${sha256} failed: ${failure.message}`, { cause: failure });
    const digest = hash.digest('hex');
    if (digest !== sha256) {
      await fs.rm(file, { force: true });
      throw new StratusError('Internal', `code bundle ${sha256} read back with digest ${digest}`);
    }
  }
}
