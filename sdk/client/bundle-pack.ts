import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as yazl from 'yazl';

// The client's half of code bundles: making one from a folder and naming it by content. Reading,
// checking and unpacking bundles is the platform's (sdk/platform/bundle.ts).

/** Zips a folder for upload, keeping file modes; returns the zip file's path (in `workDir`). */
export async function packDirectory(dir: string, workDir: string): Promise<string> {
  const zip = new yazl.ZipFile();
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const abs = path.join(dir, relPath);
      if (entry.isDirectory()) await walk(relPath);
      else if (entry.isFile()) {
        const stat = await fs.stat(abs);
        // A fixed mtime keeps the zip, and so its sha256, the same for the same files.
        zip.addFile(abs, relPath, { mode: stat.mode, mtime: new Date(0) });
      }
    }
  };
  await walk('');
  zip.end();
  const out = path.join(workDir, `${path.basename(path.resolve(dir))}.zip`);
  await pipeline(zip.outputStream, createWriteStream(out));
  return out;
}

/** Hex sha256 and size of a file. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
