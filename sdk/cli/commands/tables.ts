import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';
import { humanBytes } from '../output';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A value from an argument, a file (--file) or piped stdin. */
export async function valueFrom(arg: string | undefined, file: string | undefined, what: string): Promise<Buffer> {
  if (arg !== undefined && file !== undefined) throw new StratusError('InvalidRequest', `give the ${what} once: as an argument or with --file, not both`);
  if (arg !== undefined) return Buffer.from(arg);
  if (file !== undefined) {
    return fs.readFile(file).catch((cause: unknown) => {
      throw new StratusError('InvalidRequest', `cannot read ${file}: ${(cause as Error).message}`, { cause });
    });
  }
  if (process.stdin.isTTY) throw new StratusError('InvalidRequest', `no ${what}: give it as an argument, with --file, or on stdin`);
  return readStdin();
}

function revision(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new StratusError('InvalidRequest', `--expect-revision ${value}: give a revision number (0: the key must have no value)`);
  return n;
}

/** `stratus tables create|ls|rm|put|get|delete`: tables (KV buckets) whose changes can trigger functions. */
export function registerTableCommands(program: Command, run: Run): void {
  const tables = program.command('tables').description('tables (JetStream KV buckets): items whose puts and deletes can trigger functions (stratus mappings create <fn> --table <name>)');
  tables
    .command('create <name>')
    .description('create a table')
    .option('--history <n>', 'revisions kept per key, 2-64 (default 5); a change record carries the previous value while it is kept')
    .option('--description <text>', 'a description')
    .action((name: string, flags: { history?: string; description?: string }) =>
      run(async ({ out, client }) => {
        const t = await (await client()).tables.create(name, { history: flags.history === undefined ? undefined : Number(flags.history), description: flags.description });
        if (out.json) return out.printJson(t);
        out.line(`table ${t.name} (history ${t.history}, KV bucket ${t.name}): trigger a function with stratus mappings create <function> --table ${t.name}`);
      }),
    );
  tables
    .command('ls')
    .description('list tables')
    .action(() =>
      run(async ({ out, client }) => {
        const all = await (await client()).tables.list();
        if (out.json) return out.printJson(all);
        if (all.length === 0) return out.note('no tables: create one with stratus tables create <name>');
        out.printTable(['NAME', 'HISTORY', 'KEYS', 'SIZE', 'DESCRIPTION'], all.map((t) => [t.name, t.history, t.items, humanBytes(t.bytes), t.description || '-']));
      }),
    );
  tables
    .command('rm <name>')
    .description('delete a table and every item in it (refused while mappings read it)')
    .action((name: string) =>
      run(async ({ out, client }) => {
        await (await client()).tables.delete(name);
        if (out.json) return out.printJson({ deleted: name });
        out.line(`deleted table ${name}`);
      }),
    );
  tables
    .command('put <table> <key> [value]')
    .description('write an item (value from the argument, --file or stdin)')
    .option('--file <file>', 'read the value from a file')
    .option('--expect-revision <n>', 'write only if the key is at this revision (0: only if it has no value)')
    .action((table: string, key: string, value: string | undefined, flags: { file?: string; expectRevision?: string }) =>
      run(async ({ out, client }) => {
        const rev = await (await client()).tables.put(table, key, await valueFrom(value, flags.file, 'value'), { expectedRevision: revision(flags.expectRevision) });
        if (out.json) return out.printJson({ table, key, revision: rev });
        out.line(`${table}/${key} at revision ${rev}`);
      }),
    );
  tables
    .command('get <table> <key>')
    .description("print an item's value")
    .action((table: string, key: string) =>
      run(async ({ out, client }) => {
        const item = await (await client()).tables.get(table, key);
        if (out.json) return out.printJson({ table: item.table, key: item.key, value: item.value.toString('utf8'), revision: item.revision, time: item.time.toISOString() });
        process.stdout.write(item.value);
        if (process.stdout.isTTY) process.stdout.write('\n');
      }),
    );
  tables
    .command('delete <table> <key>')
    .description('delete an item (a DEL change; --purge also drops its history, a PURGE change)')
    .option('--purge', 'remove the key with its history')
    .action((table: string, key: string, flags: { purge?: boolean }) =>
      run(async ({ out, client }) => {
        await (await client()).tables.deleteItem(table, key, { purge: flags.purge });
        if (out.json) return out.printJson({ table, key, deleted: true, purged: Boolean(flags.purge) });
        out.line(`${flags.purge ? 'purged' : 'deleted'} ${table}/${key}`);
      }),
    );
}
