import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from '@nats-io/obj';
import { StratusError } from '../core/errors';
import { viaNats } from './nats-errors';
import type { CodeRef } from '../core/function-config';

/**
 * Code bundles in the JetStream Object Store, content-addressed: the object's name is the
 * bundle's sha256, so the same bundle is stored once however many functions use it.
 */
export class CodeStore {
  constructor(private readonly store: ObjectStore) {}

  /** Whether a bundle with this digest is stored. */
  async has(sha256: string): Promise<boolean> {
    const info = await viaNats('looking up a code bundle', () => this.store.info(sha256));
    return info !== null && !info.deleted;
  }

  /**
   * Stores a local file under its digest unless already there; returns whether it was already
   * stored. The bundle's format and unpacked size ride in the object's description, so a
   * CodeRef can be rebuilt from the digest alone.
   */
  async putFile(file: string, code: CodeRef): Promise<{ alreadyStored: boolean }> {
    if (await this.has(code.sha256)) return { alreadyStored: true };
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    const description = JSON.stringify({ format: code.format, unpackedSize: code.unpackedSize });
    await viaNats('storing the code bundle', () => this.store.put({ name: code.sha256, description }, body));
    return { alreadyStored: false };
  }

  /** The CodeRef of a stored bundle; CodeNotFound when it was never uploaded. */
  async describe(sha256: string): Promise<CodeRef> {
    const info = /^[0-9a-f]{64}$/.test(sha256) ? await viaNats('looking up a code bundle', () => this.store.info(sha256)) : null;
    if (!info || info.deleted) {
      throw new StratusError('CodeNotFound', `no uploaded code bundle has sha256 '${sha256}': upload the bundle first (stratus deploy does both)`);
    }
    let meta: { format?: string; unpackedSize?: number } = {};
    try {
      meta = JSON.parse(info.description ?? '{}');
    } catch {
      // Stored by something else: describe what we can.
    }
    return { sha256, size: info.size, unpackedSize: meta.unpackedSize ?? 0, format: meta.format === 'tar.gz' ? 'tar.gz' : 'zip' };
  }

  /** Writes the bundle to `file`, verifying its digest; throws CodeNotFound when absent. */
  async getToFile(sha256: string, file: string): Promise<void> {
    const result = await viaNats('reading a code bundle', () => this.store.get(sha256));
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
