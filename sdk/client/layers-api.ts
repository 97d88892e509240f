import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LayerVersion as LayerVersionPb, ListLayersResponse } from '../../proto/gen/stratus/v1/layers';
import { StratusError } from '../core/errors';
import { codeRefFromPb } from '../core/wire/function-codec';
import { packDirectory } from './bundle-pack';
import { uploadCode } from './functions-api';
import type { RouterTransport } from './router-transport';
import type { LayerInfo, UploadProgress } from './types';

/** Options for publishing a layer version; see StratusClient.publishLayer. */
export interface PublishLayerOptions {
  compatibleRuntimes?: string[];
  description?: string;
  onProgress?: UploadProgress;
}

/** A layer version as SDK users see it, with its `name:version` ref. */
export function layerFromPb(l: LayerVersionPb): LayerInfo {
  return { name: l.name, version: l.version, ref: `${l.name}:${l.version}`, code: codeRefFromPb(l.code), compatibleRuntimes: l.compatibleRuntimes, description: l.description, created: new Date(l.createdMs) };
}

/** Uploads a folder, zip or tar.gz and publishes it as the next version of a layer. */
export async function publishLayer(t: RouterTransport, name: string, source: string, options: PublishLayerOptions): Promise<LayerInfo> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'stratus-layer-'));
  try {
    const stat = await fs.stat(source).catch(() => undefined);
    if (!stat) throw new StratusError('InvalidRequest', `'${source}' does not exist: pass a folder, a .zip or a .tar.gz`);
    const bundle = stat.isDirectory() ? await packDirectory(source, work) : source;
    const code = await uploadCode(t, bundle, options.onProgress);
    const res = await t.call<LayerVersionPb>('write', 'PublishLayerVersion', t.deadline(), undefined, (s, md, opts, cb) =>
      s.layers.publishLayerVersion({ name, codeSha256: code.sha256, compatibleRuntimes: options.compatibleRuntimes ?? [], description: options.description ?? '' }, md, opts, cb),
    );
    return layerFromPb(res);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** The latest version of every layer. */
export async function listLayers(t: RouterTransport): Promise<LayerInfo[]> {
  const res = await t.call<ListLayersResponse>('read', 'ListLayers', t.deadline(), undefined, (s, md, opts, cb) => s.layers.listLayers({}, md, opts, cb));
  return res.layers.map(layerFromPb);
}

/** Every version of one layer. */
export async function listLayerVersions(t: RouterTransport, name: string): Promise<LayerInfo[]> {
  const res = await t.call<ListLayersResponse>('read', 'ListLayerVersions', t.deadline(), undefined, (s, md, opts, cb) => s.layers.listLayerVersions({ name }, md, opts, cb));
  return res.layers.map(layerFromPb);
}

/** One layer version. */
export async function getLayerVersion(t: RouterTransport, name: string, version: number): Promise<LayerInfo> {
  return layerFromPb(await t.call<LayerVersionPb>('read', 'GetLayerVersion', t.deadline(), undefined, (s, md, opts, cb) => s.layers.getLayerVersion({ name, version }, md, opts, cb)));
}

/** Deletes a layer version; functions using it keep running. */
export async function deleteLayerVersion(t: RouterTransport, name: string, version: number): Promise<void> {
  await t.call('write', 'DeleteLayerVersion', t.deadline(), undefined, (s, md, opts, cb) => s.layers.deleteLayerVersion({ name, version }, md, opts, cb));
}
