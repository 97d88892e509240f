import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import * as yazl from 'yazl';
import { hashFile, packDirectory } from '../client/bundle-pack';
import { extractBundle, inspectBundle } from './bundle';
import { StratusError } from '../core/errors';

const MB = 1024 * 1024;
const BIG_LIMIT = 250 * MB;

let tmp: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stratus-bundle-test-'));
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Writes a small function folder: a handler, a nested module and an executable bootstrap. */
async function functionFolder(name = 'fn'): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.mkdir(path.join(dir, 'lib'), { recursive: true });
  await fs.writeFile(path.join(dir, 'index.js'), 'exports.handler = async () => "ok";\n');
  await fs.writeFile(path.join(dir, 'lib', 'util.js'), 'module.exports = 42;\n');
  await fs.writeFile(path.join(dir, 'bootstrap'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await fs.chmod(path.join(dir, 'bootstrap'), 0o755);
  await fs.chmod(path.join(dir, 'index.js'), 0o644);
  return dir;
}

async function emptyDir(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

/** Expects `promise` to reject with an InvalidCode StratusError and returns it. */
async function invalidCode(promise: Promise<unknown>): Promise<StratusError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StratusError);
  expect((err as StratusError).code).toBe('InvalidCode');
  return err as StratusError;
}

/**
 * A zip with a `../evil` entry. yazl refuses such names itself, so the entry is written as
 * `xx/evil` and the name patched in place (the CRC covers the data, not the name).
 */
async function evilZip(): Promise<string> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from('ok'), 'fine.txt');
  zip.addBuffer(Buffer.from('pwned'), 'xx/evil');
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  const from = Buffer.from('xx/evil');
  let patched = 0;
  for (let i = data.indexOf(from); i !== -1; i = data.indexOf(from, i + 1)) {
    Buffer.from('../evil').copy(data, i);
    patched += 1;
  }
  expect(patched).toBe(2); // local header and central directory
  const file = path.join(tmp, 'evil.zip');
  await fs.writeFile(file, data);
  return file;
}

describe('packDirectory, inspectBundle and extractBundle', () => {
  test('packDirectory round-trips through inspectBundle and extractBundle when given a folder', async () => {
    const dir = await functionFolder();
    const work = await emptyDir('work');
    const zip = await packDirectory(dir, work);
    expect(path.dirname(zip)).toBe(work);
    expect(path.basename(zip)).toBe('fn.zip');

    const summary = await inspectBundle(zip, BIG_LIMIT);
    const expectedBytes = (await Promise.all(['index.js', 'lib/util.js', 'bootstrap'].map((f) => fs.stat(path.join(dir, f))))).reduce(
      (sum, s) => sum + s.size,
      0,
    );
    expect(summary).toEqual({ format: 'zip', files: 3, unpackedBytes: expectedBytes });

    const out = await emptyDir('out');
    await extractBundle(zip, out, BIG_LIMIT);
    expect(await fs.readFile(path.join(out, 'index.js'), 'utf8')).toBe('exports.handler = async () => "ok";\n');
    expect(await fs.readFile(path.join(out, 'lib', 'util.js'), 'utf8')).toBe('module.exports = 42;\n');
    expect(await fs.readFile(path.join(out, 'bootstrap'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
  });

  test('extractBundle keeps the executable bit when a packed file had it', async () => {
    const dir = await functionFolder();
    const zip = await packDirectory(dir, await emptyDir('work'));
    const out = await emptyDir('out');
    await extractBundle(zip, out, BIG_LIMIT);
    expect((await fs.stat(path.join(out, 'bootstrap'))).mode & 0o111).not.toBe(0);
    expect((await fs.stat(path.join(out, 'index.js'))).mode & 0o111).toBe(0);
  });

  test('hashFile gives the same sha256 when the same folder is packed twice', async () => {
    const dir = await functionFolder();
    const first = await packDirectory(dir, await emptyDir('work-1'));
    // Different file times must not change the bundle.
    await fs.utimes(path.join(dir, 'index.js'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const second = await packDirectory(dir, await emptyDir('work-2'));
    const a = await hashFile(first);
    const b = await hashFile(second);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toEqual(a);
    expect(a.size).toBe((await fs.stat(first)).size);
  });

  test('hashFile gives a different sha256 when a file changes', async () => {
    const dir = await functionFolder();
    const first = await hashFile(await packDirectory(dir, await emptyDir('work-1')));
    await fs.writeFile(path.join(dir, 'index.js'), 'exports.handler = async () => "changed";\n');
    const second = await hashFile(await packDirectory(dir, await emptyDir('work-2')));
    expect(second.sha256).not.toBe(first.sha256);
  });

  test('hashFile returns the known sha256 when the file is empty', async () => {
    const file = path.join(tmp, 'empty');
    await fs.writeFile(file, '');
    expect(await hashFile(file)).toEqual({ sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0 });
  });

  test('inspectBundle and extractBundle handle a tar.gz when one is uploaded', async () => {
    const dir = await functionFolder();
    const file = path.join(tmp, 'fn.tar.gz');
    await tar.c({ gzip: true, file, cwd: dir, portable: true }, ['index.js', 'lib/util.js', 'bootstrap']);

    const summary = await inspectBundle(file, BIG_LIMIT);
    expect(summary.format).toBe('tar.gz');
    expect(summary.files).toBe(3);
    expect(summary.unpackedBytes).toBe(36 + 21 + 18);

    const out = await emptyDir('out');
    await extractBundle(file, out, BIG_LIMIT);
    expect(await fs.readFile(path.join(out, 'lib', 'util.js'), 'utf8')).toBe('module.exports = 42;\n');
    expect((await fs.stat(path.join(out, 'bootstrap'))).mode & 0o111).not.toBe(0);
  });

  test('inspectBundle throws InvalidCode when the file is neither zip nor tar.gz', async () => {
    const file = path.join(tmp, 'garbage.bin');
    await fs.writeFile(file, 'this is not an archive at all');
    const err = await invalidCode(inspectBundle(file, BIG_LIMIT));
    expect(err.message).toMatch(/upload a \.zip or \.tar\.gz/);
    await invalidCode(extractBundle(file, await emptyDir('out'), BIG_LIMIT));
  });

  test('inspectBundle throws InvalidCode when the file is empty', async () => {
    const file = path.join(tmp, 'empty.zip');
    await fs.writeFile(file, '');
    await invalidCode(inspectBundle(file, BIG_LIMIT));
  });

  test('inspectBundle throws InvalidCode when a zip is truncated', async () => {
    const zip = await packDirectory(await functionFolder(), await emptyDir('work'));
    const data = await fs.readFile(zip);
    const cut = path.join(tmp, 'cut.zip');
    await fs.writeFile(cut, data.subarray(0, Math.floor(data.length / 2)));
    const err = await invalidCode(inspectBundle(cut, BIG_LIMIT));
    expect(err.message).toMatch(/rebuild the archive/);
  });

  test('inspectBundle throws InvalidCode when a gzip file is not a tar', async () => {
    const file = path.join(tmp, 'not-tar.tar.gz');
    await fs.writeFile(file, gzipSync(Buffer.from('just some gzipped text, no tar headers here\n'.repeat(20))));
    await invalidCode(inspectBundle(file, BIG_LIMIT));
  });

  test('inspectBundle throws InvalidCode when a zip unpacks past the limit', async () => {
    const dir = await emptyDir('big');
    await fs.writeFile(path.join(dir, 'a.bin'), Buffer.alloc(600));
    await fs.writeFile(path.join(dir, 'b.bin'), Buffer.alloc(600));
    const zip = await packDirectory(dir, await emptyDir('work'));
    // Zeros compress well: the zip is small, the unpacked size is not.
    expect((await fs.stat(zip)).size).toBeLessThan(1000);
    const err = await invalidCode(inspectBundle(zip, 1000));
    expect(err.message).toMatch(/unpacks to more than/);
    await expect(inspectBundle(zip, 1200)).resolves.toMatchObject({ unpackedBytes: 1200 });
  });

  test('extractBundle throws InvalidCode when a zip unpacks past the limit', async () => {
    const dir = await emptyDir('big');
    await fs.writeFile(path.join(dir, 'a.bin'), Buffer.alloc(600));
    await fs.writeFile(path.join(dir, 'b.bin'), Buffer.alloc(600));
    const zip = await packDirectory(dir, await emptyDir('work'));
    await invalidCode(extractBundle(zip, await emptyDir('out'), 1000));
  });

  test('inspectBundle and extractBundle throw InvalidCode when a tar.gz unpacks past the limit', async () => {
    const dir = await emptyDir('big');
    await fs.writeFile(path.join(dir, 'a.bin'), Buffer.alloc(600));
    await fs.writeFile(path.join(dir, 'b.bin'), Buffer.alloc(600));
    const file = path.join(tmp, 'big.tar.gz');
    await tar.c({ gzip: true, file, cwd: dir }, ['a.bin', 'b.bin']);
    await invalidCode(inspectBundle(file, 1000));
    await invalidCode(extractBundle(file, await emptyDir('out'), 1000));
  });

  test('inspectBundle refuses a zip with InvalidCode when an entry is ../evil', async () => {
    const zip = await evilZip();
    await invalidCode(inspectBundle(zip, BIG_LIMIT));
  });

  test('extractBundle refuses a zip with InvalidCode and writes nothing outside when an entry is ../evil', async () => {
    const zip = await evilZip();
    const out = await emptyDir('nested/out');
    await invalidCode(extractBundle(zip, out, BIG_LIMIT));
    await expect(fs.access(path.join(tmp, 'nested', 'evil'))).rejects.toThrow();
  });

  test('inspectBundle refuses a tar.gz with InvalidCode when an entry escapes the folder', async () => {
    const src = await emptyDir('src/inner');
    await fs.writeFile(path.join(tmp, 'src', 'evil'), 'pwned');
    await fs.writeFile(path.join(src, 'ok'), 'ok');
    const file = path.join(tmp, 'evil.tar.gz');
    await tar.c({ gzip: true, file, cwd: src, preservePaths: true }, ['ok', '../evil']);
    await invalidCode(inspectBundle(file, BIG_LIMIT));
  });

  test('extractBundle writes nothing outside the folder when a tar.gz entry escapes it', async () => {
    const src = await emptyDir('src/inner');
    await fs.writeFile(path.join(tmp, 'src', 'evil'), 'pwned');
    await fs.writeFile(path.join(src, 'ok'), 'ok');
    const file = path.join(tmp, 'evil.tar.gz');
    await tar.c({ gzip: true, file, cwd: src, preservePaths: true }, ['ok', '../evil']);
    const out = await emptyDir('nested/out');
    await extractBundle(file, out, BIG_LIMIT).catch(() => undefined);
    await expect(fs.access(path.join(tmp, 'nested', 'evil'))).rejects.toThrow();
  });
});
