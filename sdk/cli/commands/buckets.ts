import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { humanBytes } from '../output';
import { valueFrom } from './tables';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

/** `stratus buckets create|ls|rm|put|get|delete`: buckets of objects whose changes can trigger functions. */
export function registerBucketCommands(program: Command, run: Run): void {
  const buckets = program.command('buckets').description('buckets of objects (JetStream Object Store): object puts and deletes can trigger functions (stratus mappings create <fn> --bucket <name>)');
  buckets
    .command('create <name>')
    .description('create a bucket')
    .option('--description <text>', 'a description')
    .action((name: string, flags: { description?: string }) =>
      run(async ({ out, client }) => {
        const b = await (await client()).buckets.create(name, { description: flags.description });
        if (out.json) return out.printJson(b);
        out.line(`bucket ${b.name} (Object Store ${b.name}): trigger a function with stratus mappings create <function> --bucket ${b.name}`);
      }),
    );
  buckets
    .command('ls [bucket]')
    .description('list buckets, or the objects of one')
    .action((bucket: string | undefined) =>
      run(async ({ out, client }) => {
        const c = await client();
        if (bucket === undefined) {
          const all = await c.buckets.list();
          if (out.json) return out.printJson(all);
          if (all.length === 0) return out.note('no buckets: create one with stratus buckets create <name>');
          return out.printTable(['NAME', 'SIZE', 'DESCRIPTION'], all.map((b) => [b.name, humanBytes(b.bytes), b.description || '-']));
        }
        const objects = await c.buckets.listObjects(bucket);
        if (out.json) return out.printJson(objects.map((o) => ({ ...o, modified: o.modified.toISOString() })));
        if (objects.length === 0) return out.note(`bucket ${bucket} is empty`);
        out.printTable(['NAME', 'SIZE', 'DIGEST', 'MODIFIED'], objects.map((o) => [o.name, humanBytes(o.size), o.digest, o.modified.toISOString()]));
      }),
    );
  buckets
    .command('rm <name>')
    .description('delete a bucket and every object in it (refused while mappings read it)')
    .action((name: string) =>
      run(async ({ out, client }) => {
        await (await client()).buckets.delete(name);
        if (out.json) return out.printJson({ deleted: name });
        out.line(`deleted bucket ${name}`);
      }),
    );
  buckets
    .command('put <bucket> <name> [file]')
    .description('store an object from a file or stdin (up to 6 MB through the API)')
    .action((bucket: string, name: string, file: string | undefined) =>
      run(async ({ out, client }) => {
        const o = await (await client()).buckets.put(bucket, name, await valueFrom(undefined, file, 'object'));
        if (out.json) return out.printJson({ ...o, modified: o.modified.toISOString() });
        out.line(`${bucket}/${o.name}: ${humanBytes(o.size)} ${o.digest}`);
      }),
    );
  buckets
    .command('get <bucket> <name>')
    .description('print an object (or write it to --out)')
    .option('--out <file>', 'write the object to this file')
    .action((bucket: string, name: string, flags: { out?: string }) =>
      run(async ({ out, client }) => {
        const { info, data } = await (await client()).buckets.get(bucket, name);
        if (flags.out !== undefined) await fs.writeFile(flags.out, data);
        else if (!out.json) process.stdout.write(data);
        if (out.json) out.printJson({ ...info, modified: info.modified.toISOString(), ...(flags.out === undefined ? { data: data.toString('base64') } : { file: flags.out }) });
      }),
    );
  buckets
    .command('delete <bucket> <name>')
    .description('delete an object')
    .action((bucket: string, name: string) =>
      run(async ({ out, client }) => {
        await (await client()).buckets.deleteObject(bucket, name);
        if (out.json) return out.printJson({ bucket, name, deleted: true });
        out.line(`deleted ${bucket}/${name}`);
      }),
    );
}
