import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { StratusError } from '../../core/errors';
import type { LayerInfo } from '../../client/types';
import type { CliContext } from '../context';
import { humanBytes } from '../output';

function version(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new StratusError('InvalidRequest', `'${value}' is not a layer version: use a number from stratus layers get <name>`);
  return n;
}

function rows(layers: LayerInfo[]): Array<Array<string | number>> {
  return layers.map((l) => [l.name, l.version, l.compatibleRuntimes.join(', ') || 'any', humanBytes(l.code.size), l.description || '-', l.created.toISOString()]);
}

const HEAD = ['NAME', 'VERSION', 'RUNTIMES', 'SIZE', 'DESCRIPTION', 'CREATED'];

/** `stratus layers publish|ls|get|rm`. */
export function registerLayerCommands(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  const layers = program.command('layers').description('publish and manage layers: code shared by functions, unpacked into /opt');
  layers
    .command('publish <name> <source>')
    .description('publish a folder, .zip or .tar.gz as the next version of a layer')
    .option('--runtimes <list>', 'compatible runtimes, comma-separated (default: any)')
    .option('--description <text>', 'a description')
    .action((name: string, source: string, flags: { runtimes?: string; description?: string }) =>
      run(async ({ out, client }) => {
        const bar = !out.json && process.stderr.isTTY ? new SingleBar({ format: 'uploading {bar} {percentage}% | {value}/{total} bytes', stream: process.stderr }) : undefined;
        let started = false;
        const layer = await (await client()).publishLayer(name, source, {
          compatibleRuntimes: flags.runtimes?.split(',').map((r) => r.trim()).filter(Boolean),
          description: flags.description,
          onProgress: (sent, total) => {
            if (!bar) return;
            if (!started) bar.start(total, 0);
            started = true;
            bar.update(sent);
          },
        });
        bar?.stop();
        if (out.json) return out.printJson(layer);
        out.line(`published ${layer.ref} (${humanBytes(layer.code.size)}): use it with stratus deploy <fn> <folder> --layer ${layer.ref}`);
      }),
    );
  layers
    .command('ls')
    .description('list layers (latest version of each)')
    .action(() =>
      run(async ({ out, client }) => {
        const all = await (await client()).listLayers();
        if (out.json) return out.printJson(all);
        if (all.length === 0) return out.note('no layers yet: publish one with stratus layers publish <name> <folder>');
        out.printTable(HEAD, rows(all));
      }),
    );
  layers
    .command('get <name> [version]')
    .description("show a layer's versions, or one version")
    .action((name: string, v: string | undefined) =>
      run(async ({ out, client }) => {
        const c = await client();
        const found = v === undefined ? await c.listLayerVersions(name) : [await c.getLayerVersion(name, version(v))];
        if (out.json) return out.printJson(v === undefined ? found : found[0]);
        if (found.length === 0) return out.note(`layer ${name} has no versions`);
        out.printTable(HEAD, rows(found));
      }),
    );
  layers
    .command('rm <name> <version>')
    .description('delete a layer version (functions using it keep running)')
    .action((name: string, v: string) =>
      run(async ({ out, client }) => {
        await (await client()).deleteLayerVersion(name, version(v));
        if (out.json) return out.printJson({ deleted: `${name}:${v}` });
        out.line(`deleted ${name}:${v}`);
      }),
    );
}
