import { createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FunctionInfo as FunctionInfoPb } from '../../proto/gen/stratus/v1/common';
import type { ListFunctionsResponse, UploadCodeResponse } from '../../proto/gen/stratus/v1/functions';
import { StratusError } from '../core/errors';
import { validateGivenSizes, type CodeRef } from '../core/function-config';
import { LIMITS } from '../core/limits';
import { codeRefFromPb, functionConfigToPb, functionRecordFromPb } from '../core/wire/function-codec';
import { hashFile, packDirectory } from './bundle-pack';
import type { RouterTransport } from './router-transport';
import type { DeployRequest, DeployResult, FunctionInfo, FunctionSettings, UploadProgress } from './types';

/** Uploads a bundle file in chunks; see StratusClient.uploadCode. */
export async function uploadCode(t: RouterTransport, file: string, onProgress?: UploadProgress): Promise<CodeRef & { alreadyStored: boolean }> {
  const { sha256, size } = await hashFile(file);
  if (size > LIMITS.maxBundleBytes) {
    throw new StratusError('PayloadTooLarge', `the bundle is ${size} bytes, over the ${LIMITS.maxBundleBytes / 1024 / 1024} MB upload limit: remove unused files or move dependencies into a layer`);
  }
  // A large bundle over a slow link takes longer than an ordinary call's deadline.
  const deadline = Date.now() + Math.max(t.defaultTimeoutMs, 120_000);
  // 'read': the upload is content-addressed, so sending it again stores nothing twice.
  const res = await t.call<UploadCodeResponse>('read', 'UploadCode', deadline, undefined, (s, md, opts, cb) => {
    const call = s.functions.uploadCode(md, opts, cb);
    // Streams the file alongside the call; a failed read destroys the call, so the upload fails rather than hangs.
    (async () => {
      call.write({ part: { $case: 'header', value: { size, sha256 } } });
      let sent = 0;
      for await (const chunk of createReadStream(file, { highWaterMark: LIMITS.uploadChunkBytes })) {
        const buf = chunk as Buffer;
        if (!call.write({ part: { $case: 'chunk', value: buf } })) await new Promise<void>((r) => call.once('drain', () => r()));
        sent += buf.length;
        onProgress?.(sent, size);
      }
      call.end();
    })().catch((err: unknown) => call.destroy(err as Error));
    return call;
  });
  return { ...codeRefFromPb(res.code), alreadyStored: res.alreadyStored };
}

/** Creates a function from uploaded code. */
export async function createFunction(t: RouterTransport, name: string, settings: FunctionSettings & { runtime: string }, codeSha256: string): Promise<FunctionInfo> {
  validateGivenSizes(settings);
  const config = functionConfigToPb({ ...settings, name });
  const res = await t.call<FunctionInfoPb>('write', 'CreateFunction', t.deadline(), undefined, (s, md, opts, cb) => s.functions.createFunction({ config, codeSha256 }, md, opts, cb));
  return functionRecordFromPb(res);
}

/** Points a function at new uploaded code. */
export async function updateFunctionCode(t: RouterTransport, name: string, codeSha256: string, expectedRevisionId: string): Promise<FunctionInfo> {
  const res = await t.call<FunctionInfoPb>('write', 'UpdateFunctionCode', t.deadline(), undefined, (s, md, opts, cb) =>
    s.functions.updateFunctionCode({ name, codeSha256, expectedRevisionId }, md, opts, cb),
  );
  return functionRecordFromPb(res);
}

/** Changes a function's settings; see StratusClient.updateFunctionConfiguration for `mask`. */
export async function updateFunctionConfiguration(t: RouterTransport, name: string, settings: FunctionSettings, mask: string[]): Promise<FunctionInfo> {
  validateGivenSizes(settings);
  const config = functionConfigToPb({ ...settings, name });
  const res = await t.call<FunctionInfoPb>('write', 'UpdateFunctionConfiguration', t.deadline(), undefined, (s, md, opts, cb) =>
    s.functions.updateFunctionConfiguration({ name, config, updateMask: mask, expectedRevisionId: '' }, md, opts, cb),
  );
  return functionRecordFromPb(res);
}

/** A function's $LATEST configuration; FunctionNotFound when absent. */
export async function getFunction(t: RouterTransport, name: string): Promise<FunctionInfo> {
  const res = await t.call<FunctionInfoPb>('read', 'GetFunction', t.deadline(), undefined, (s, md, opts, cb) => s.functions.getFunction({ name, qualifier: '' }, md, opts, cb));
  return functionRecordFromPb(res);
}

/** Every function, following pages. */
export async function listFunctions(t: RouterTransport): Promise<FunctionInfo[]> {
  const all: FunctionInfo[] = [];
  let marker = '';
  do {
    const page = await t.call<ListFunctionsResponse>('read', 'ListFunctions', t.deadline(), undefined, (s, md, opts, cb) => s.functions.listFunctions({ marker, maxItems: 200 }, md, opts, cb));
    all.push(...page.functions.map(functionRecordFromPb));
    marker = page.nextMarker;
  } while (marker);
  return all;
}

/** Deletes a function; FunctionNotFound when absent. */
export async function deleteFunction(t: RouterTransport, name: string): Promise<void> {
  await t.call('write', 'DeleteFunction', t.deadline(), undefined, (s, md, opts, cb) => s.functions.deleteFunction({ name }, md, opts, cb));
}

/** Uploads a folder, zip or tar.gz, then creates the function or updates its code and settings. */
export async function deploy(t: RouterTransport, req: DeployRequest): Promise<DeployResult> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'stratus-deploy-'));
  try {
    const stat = await fs.stat(req.source).catch(() => undefined);
    if (!stat) throw new StratusError('InvalidRequest', `'${req.source}' does not exist: pass a folder, a .zip or a .tar.gz`);
    // Before the upload, so a bad setting fails fast rather than after sending the bundle.
    validateGivenSizes(req.settings);
    const bundle = stat.isDirectory() ? await packDirectory(req.source, work) : req.source;
    const code = await uploadCode(t, bundle, req.onProgress);
    const existing = await getFunction(t, req.name).catch((err: unknown) => {
      if (err instanceof StratusError && err.code === 'FunctionNotFound') return undefined;
      throw err;
    });
    if (!existing) {
      if (!req.settings.runtime) throw new StratusError('InvalidRequest', `function '${req.name}' is new: say which runtime it uses (--runtime nodejs|python|provided)`);
      const created = await createFunction(t, req.name, { ...req.settings, runtime: req.settings.runtime }, code.sha256);
      return { function: created, created: true, codeChanged: true };
    }
    const codeChanged = existing.code.sha256 !== code.sha256;
    let fn = codeChanged ? await updateFunctionCode(t, req.name, code.sha256, existing.revisionId) : existing;
    if (Object.values(req.settings).some((v) => v !== undefined)) fn = await updateFunctionConfiguration(t, req.name, req.settings, []);
    return { function: fn, created: false, codeChanged };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
