import type { Command } from 'commander';
import type { FunctionInfo } from '../../client/types';
import type { CliContext } from '../context';
import { humanBytes } from '../output';

/** A function record as printed by --json: the domain record, stable for scripts. */
function toJson(fn: FunctionInfo): Record<string, unknown> {
  return { ...fn.config, resolvedRuntime: fn.runtime, version: fn.version, revisionId: fn.revisionId, lastModified: new Date(fn.lastModifiedMs).toISOString(), code: fn.code };
}

/** `stratus ls`, `stratus get <name>`, `stratus rm <name>`. */
export function registerFunctionCommands(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  program
    .command('ls')
    .description('list functions')
    .action(() =>
      run(async ({ out, client }) => {
        const fns = await (await client()).listFunctions();
        if (out.json) return out.printJson(fns.map(toJson));
        if (fns.length === 0) return out.note('no functions yet: deploy one with stratus deploy <name> <folder> --runtime nodejs --handler index.handler');
        out.printTable(
          ['NAME', 'RUNTIME', 'HANDLER', 'MEMORY', 'TIMEOUT', 'CODE', 'LAST MODIFIED'],
          fns.map((f) => [f.config.name, f.config.runtime, f.config.handler, `${f.config.memoryMb} MB`, `${f.config.timeoutSeconds} s`, humanBytes(f.code.size), new Date(f.lastModifiedMs).toISOString()]),
        );
      }),
    );
  program
    .command('get <name>')
    .description("show a function's configuration")
    .action((name: string) =>
      run(async ({ out, client }) => {
        const f = await (await client()).getFunction(name);
        if (out.json) return out.printJson(toJson(f));
        const env = Object.keys(f.config.environment);
        out.printTable(['FIELD', 'VALUE'], [
          ['name', f.config.name],
          ['runtime', `${f.config.runtime} (${f.runtime})`],
          ['handler', f.config.handler],
          ['memory', `${f.config.memoryMb} MB`],
          ['timeout', `${f.config.timeoutSeconds} s`],
          ['ephemeral storage', `${f.config.ephemeralStorageMb} MB`],
          ['environment', env.length ? env.join(', ') : '-'],
          ['description', f.config.description || '-'],
          ['code', `${f.code.format} ${humanBytes(f.code.size)} (unpacked ${humanBytes(f.code.unpackedSize)}) sha256 ${f.code.sha256.slice(0, 12)}`],
          ['version', f.version],
          ['revision', f.revisionId],
          ['last modified', new Date(f.lastModifiedMs).toISOString()],
        ]);
      }),
    );
  program
    .command('rm <name>')
    .description('delete a function')
    .action((name: string) =>
      run(async ({ out, client }) => {
        await (await client()).deleteFunction(name);
        if (out.json) return out.printJson({ deleted: name });
        out.line(`deleted ${name}`);
      }),
    );
}
