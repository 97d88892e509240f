import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import * as yauzl from 'yauzl';
import { StratusError, ensureError } from '../core/errors';
import type { BundleFormat } from '../core/function-config';

/** What inspecting a bundle found. */
export interface BundleSummary {
  format: BundleFormat;
  files: number;
  unpackedBytes: number;
}

/** Recognises zip and gzip by their magic bytes; throws InvalidCode for anything else. */
export async function detectBundleFormat(file: string): Promise<BundleFormat> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    if (bytesRead >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 0x03 || head[2] === 0x05)) return 'zip';
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  } finally {
    await handle.close();
  }
  throw new StratusError('InvalidCode', 'the code bundle is neither a zip nor a tar.gz archive: upload a .zip or .tar.gz of your function folder');
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true, strictFileNames: false, validateEntrySizes: true }, (err, zip) =>
      err || !zip ? reject(err) : resolve(zip),
    );
  });
}

/** Walks a zip's entries; `onEntry` may extract them. yauzl refuses absolute and `..` paths itself. */
async function walkZip(file: string, onEntry: (zip: yauzl.ZipFile, entry: yauzl.Entry) => Promise<void>): Promise<void> {
  // Errors from yauzl itself mean a bad archive (corrupt, or an unsafe path): InvalidCode, in both callers.
  const zip = await openZip(file).catch((err: unknown) => {
    throw unreadable('zip', err);
  });
  await new Promise<void>((resolve, reject) => {
    zip.on('error', (err: unknown) => reject(unreadable('zip', err)));
    zip.on('end', resolve);
    zip.on('entry', (entry: yauzl.Entry) => {
      onEntry(zip, entry).then(() => zip.readEntry(), (err) => {
        zip.close();
        reject(err);
      });
    });
    zip.readEntry();
  });
}

function unsafePath(name: string): boolean {
  const normalized = path.posix.normalize(name.replace(/\\/g, '/'));
  return path.posix.isAbsolute(normalized) || normalized === '..' || normalized.startsWith('../');
}

function unreadable(format: BundleFormat, err: unknown): StratusError {
  if (err instanceof StratusError) return err;
  return new StratusError('InvalidCode', `the ${format} bundle is unreadable (${ensureError(err).message}): rebuild the archive and upload it again`, {
    cause: err,
  });
}

function tooLarge(limit: number): StratusError {
  return new StratusError(
    'InvalidCode',
    `the bundle unpacks to more than ${Math.round(limit / 1024 / 1024)} MB: remove unused files or move dependencies into a layer`,
  );
}

/**
 * Reads a whole bundle's listing without unpacking it: proves it is readable, counts the
 * unpacked bytes against `maxUnpackedBytes`, and refuses paths that escape the folder.
 */
export async function inspectBundle(file: string, maxUnpackedBytes: number): Promise<BundleSummary> {
  const format = await detectBundleFormat(file);
  let files = 0;
  let unpackedBytes = 0;
  const count = (name: string, size: number): void => {
    if (unsafePath(name)) throw new StratusError('InvalidCode', `the bundle has an entry outside its folder ('${name}'): rebuild it with relative paths`);
    files += 1;
    unpackedBytes += size;
    if (unpackedBytes > maxUnpackedBytes) throw tooLarge(maxUnpackedBytes);
  };
  try {
    if (format === 'zip') {
      await walkZip(file, async (_zip, entry) => count(entry.fileName, entry.uncompressedSize));
    } else {
      // Throwing inside a tar callback escapes the stream (uncaught, and the promise never settles): record and rethrow.
      let refused: unknown;
      await tar.t({
        file,
        strict: true,
        onReadEntry: (entry) => {
          if (refused !== undefined) return;
          try {
            count(entry.path, entry.size ?? 0);
          } catch (err) {
            refused = err;
          }
        },
      });
      if (refused !== undefined) throw refused;
    }
  } catch (err) {
    throw unreadable(format, err);
  }
  return { format, files, unpackedBytes };
}

/** Unpacks a bundle into `dest` (which must exist), keeping executable bits (a custom runtime's bootstrap needs them). */
export async function extractBundle(file: string, dest: string, maxUnpackedBytes: number): Promise<void> {
  const format = await detectBundleFormat(file);
  let written = 0;
  if (format === 'zip') {
    await walkZip(file, async (zip, entry) => {
      if (unsafePath(entry.fileName)) throw new StratusError('InvalidCode', `unsafe path '${entry.fileName}' in bundle`);
      const target = path.join(dest, entry.fileName);
      if (entry.fileName.endsWith('/')) {
        await fs.mkdir(target, { recursive: true });
        return;
      }
      written += entry.uncompressedSize;
      if (written > maxUnpackedBytes) throw tooLarge(maxUnpackedBytes);
      await fs.mkdir(path.dirname(target), { recursive: true });
      const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
        zip.openReadStream(entry, (err, s) => (err || !s ? reject(err) : resolve(s))),
      );
      const unixMode = (entry.externalFileAttributes >>> 16) & 0o777;
      await pipeline(stream, createWriteStream(target, { mode: unixMode & 0o111 ? 0o755 : 0o644 }));
    });
  } else {
    // As in inspectBundle, the filter must not throw: it skips every entry past the limit instead.
    let refused: StratusError | undefined;
    await tar.x({
      file,
      cwd: dest,
      strict: true,
      preservePaths: false,
      filter: (_p, entry) => {
        if (refused) return false;
        written += 'size' in entry ? (entry.size ?? 0) : 0;
        if (written > maxUnpackedBytes) refused = tooLarge(maxUnpackedBytes);
        return !refused;
      },
    });
    if (refused) throw refused;
  }
}
