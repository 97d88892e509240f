import type { Command } from 'commander';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

/** `--weight 3=0.1`: version 3 takes 10% of the alias's invocations. */
export function parseWeight(flag: string | undefined): { version: string; weight: number } | undefined {
  if (flag === undefined) return undefined;
  const m = /^(\d+)=(0?\.\d+)$/.exec(flag.trim());
  if (!m) throw new StratusError('InvalidRequest', `--weight ${flag}: write VERSION=SHARE, e.g. --weight 3=0.1 sends 10% of invocations to version 3`);
  return { version: m[1]!, weight: Number(m[2]) };
}

/** `stratus versions publish|ls|rm` and `stratus aliases create|update|ls|rm`. */
export function registerVersionCommands(program: Command, run: Run): void {
  const versions = program.command('versions').description("a function's published versions: immutable snapshots of $LATEST");
  versions
    .command('publish <function>')
    .description('snapshot $LATEST as the next version (the newest one again when nothing changed)')
    .option('--description <text>', 'what this version is')
    .option('--code-sha256 <sha>', 'refuse unless $LATEST runs this code (guards against publishing what someone else just deployed)')
    .action((fn: string, flags: { description?: string; codeSha256?: string }) =>
      run(async ({ out, client }) => {
        const v = await (await client()).versions.publish(fn, { description: flags.description, codeSha256: flags.codeSha256 });
        if (out.json) return out.printJson({ name: fn, version: v.version, revisionId: v.revisionId, codeSha256: v.code.sha256, description: v.config.description });
        out.line(`${fn}: version ${v.version} (code ${v.code.sha256.slice(0, 12)}…)`);
      }),
    );
  versions
    .command('ls <function>')
    .description('list the published versions, oldest first')
    .action((fn: string) =>
      run(async ({ out, client }) => {
        const list = await (await client()).versions.list(fn);
        if (out.json) return out.printJson(list.map((v) => ({ version: v.version, description: v.config.description, codeSha256: v.code.sha256, memoryMb: v.config.memoryMb, lastModified: new Date(v.lastModifiedMs).toISOString() })));
        if (list.length === 0) return out.note(`'${fn}' has no published versions: stratus versions publish ${fn}`);
        out.printTable(['VERSION', 'DESCRIPTION', 'CODE', 'MEMORY', 'PUBLISHED'], list.map((v) => [v.version, v.config.description || '-', `${v.code.sha256.slice(0, 12)}…`, `${v.config.memoryMb} MB`, new Date(v.lastModifiedMs).toISOString()]));
      }),
    );
  versions
    .command('rm <function> <version>')
    .description('delete a version (refused while an alias points at it)')
    .action((fn: string, version: string) =>
      run(async ({ out, client }) => {
        await (await client()).versions.delete(fn, version);
        out.note(`deleted version ${version} of ${fn}`);
      }),
    );

  const aliases = program.command('aliases').description("a function's aliases: names for versions, optionally splitting traffic between two");
  aliases
    .command('create <function> <alias>')
    .description('name a version')
    .requiredOption('--version <n>', 'the version the alias runs')
    .option('--weight <version=share>', 'send a share of invocations to a second version, e.g. 4=0.1')
    .option('--description <text>', 'what the alias is for')
    .action((fn: string, alias: string, flags: { version: string; weight?: string; description?: string }) =>
      run(async ({ out, client }) => {
        const a = await (await client()).versions.createAlias(fn, alias, { version: flags.version, description: flags.description, routing: parseWeight(flags.weight) });
        if (out.json) return out.printJson(a);
        out.line(`${fn}:${a.name} → version ${a.functionVersion}${a.routing ? ` (${a.routing.weight * 100}% to version ${a.routing.version})` : ''}`);
      }),
    );
  aliases
    .command('update <function> <alias>')
    .description('point an alias at another version, or change how it splits traffic')
    .option('--version <n>', 'the version the alias runs')
    .option('--weight <version=share>', 'send a share of invocations to a second version, e.g. 4=0.1')
    .option('--no-weight', 'stop splitting traffic')
    .option('--description <text>', 'what the alias is for')
    .action((fn: string, alias: string, flags: { version?: string; weight?: string | false; description?: string }) =>
      run(async ({ out, client }) => {
        const routing = flags.weight === false ? null : parseWeight(flags.weight);
        const a = await (await client()).versions.updateAlias(fn, alias, { version: flags.version, description: flags.description, routing });
        if (out.json) return out.printJson(a);
        out.line(`${fn}:${a.name} → version ${a.functionVersion}${a.routing ? ` (${a.routing.weight * 100}% to version ${a.routing.version})` : ''}`);
      }),
    );
  aliases
    .command('ls <function>')
    .description('list the aliases')
    .action((fn: string) =>
      run(async ({ out, client }) => {
        const list = await (await client()).versions.listAliases(fn);
        if (out.json) return out.printJson(list);
        if (list.length === 0) return out.note(`'${fn}' has no aliases: stratus aliases create ${fn} <alias> --version <n>`);
        out.printTable(['ALIAS', 'VERSION', 'ROUTING', 'DESCRIPTION'], list.map((a) => [a.name, a.functionVersion, a.routing ? `${a.routing.weight * 100}% → ${a.routing.version}` : '-', a.description || '-']));
      }),
    );
  aliases
    .command('rm <function> <alias>')
    .description('delete an alias')
    .action((fn: string, alias: string) =>
      run(async ({ out, client }) => {
        await (await client()).versions.deleteAlias(fn, alias);
        out.note(`deleted alias ${alias} of ${fn}`);
      }),
    );
}
