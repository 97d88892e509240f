import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspectBundle } from '../../sdk/platform/bundle';
import type { CodeStore } from '../../sdk/platform/code-store';
import { StratusError } from '../../sdk/core/errors';
import type { CodeRef } from '../../sdk/core/function-config';
import { LIMITS } from '../../sdk/core/limits';

/** One piece of an upload as it arrives: the header first, then chunks. */
export type UploadPart = { kind: 'header'; size: number; sha256: string } | { kind: 'chunk'; data: Buffer };

/**
 * Receives a chunked bundle upload: spools it to a temporary file while hashing and counting,
 * refuses it as soon as it passes the size limit, proves the archive readable, then stores it
 * content-addressed. Nothing reaches the store unless the whole bundle was valid.
 */
export async function receiveUpload(parts: AsyncIterable<UploadPart>, store: CodeStore): Promise<{ code: CodeRef; alreadyStored: boolean }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stratus-upload-'));
  const file = path.join(dir, 'bundle');
  try {
    const out = createWriteStream(file);
    const hash = createHash('sha256');
    let size = 0;
    let header: { size: number; sha256: string } | undefined;
    try {
      for await (const part of parts) {
        if (part.kind === 'header') {
          if (header) throw new StratusError('InvalidRequest', 'the upload sent two headers: send one header, then the chunks');
          if (part.size > LIMITS.maxBundleBytes) throw tooBig(part.size);
          header = part;
          continue;
        }
        if (!header) throw new StratusError('InvalidRequest', 'the upload sent data before its header');
        size += part.data.length;
        if (size > LIMITS.maxBundleBytes) throw tooBig(size);
        hash.update(part.data);
        if (!out.write(part.data)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
    if (!header) throw new StratusError('InvalidRequest', 'the upload was empty: send a header and the bundle bytes');
    if (size === 0) throw new StratusError('InvalidCode', 'the code bundle is empty: zip your function folder and upload it');
    const sha256 = hash.digest('hex');
    if (header.size && header.size !== size) {
      throw new StratusError('InvalidRequest', `the upload was cut short: ${size} of ${header.size} bytes arrived; upload again`);
    }
    if (header.sha256 && header.sha256 !== sha256) {
      throw new StratusError('InvalidRequest', `the bundle's sha256 is ${sha256}, not ${header.sha256} as announced: upload again`);
    }
    const summary = await inspectBundle(file, LIMITS.maxUnpackedBytes);
    const code: CodeRef = { sha256, size, unpackedSize: summary.unpackedBytes, format: summary.format };
    const { alreadyStored } = await store.putFile(file, code);
    return { code, alreadyStored };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function tooBig(size: number): StratusError {
  return new StratusError(
    'PayloadTooLarge',
    `the code bundle is ${size} bytes, over the ${LIMITS.maxBundleBytes / 1024 / 1024} MB upload limit: remove unused files or move dependencies into a layer`,
  );
}
