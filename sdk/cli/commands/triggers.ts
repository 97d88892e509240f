import type { Command } from 'commander';
import type { TriggerInfo } from '../../client/event-source-types';
import type { CliContext } from '../context';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

/**
 * The --filter flags as the filter's JSON text. A flag is JSON as the API takes it (a condition
 * or a list), or the shorthand `path=value` (value as JSON when it parses, else a string):
 * `type=created`, `order.total=100`. Several flags must all hold. Text that is neither is sent
 * as written, so the router explains what a filter looks like.
 */
export function filterText(flags: string[]): string {
  if (flags.length === 0) return '';
  const conditions: unknown[] = [];
  for (const flag of flags) {
    const trimmed = flag.trim();
    const eq = trimmed.indexOf('=');
    if (trimmed.startsWith('{') || trimmed.startsWith('[') || eq <= 0) {
      try {
        const parsed: unknown = JSON.parse(trimmed);
        conditions.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      } catch {
        return trimmed;
      }
      continue;
    }
    const raw = trimmed.slice(eq + 1);
    let equals: unknown = raw;
    try {
      equals = JSON.parse(raw);
    } catch {
      // A bare word is a string.
    }
    conditions.push({ path: trimmed.slice(0, eq), equals });
  }
  return JSON.stringify(conditions.length === 1 ? conditions[0] : conditions);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function toJson(t: TriggerInfo): Record<string, unknown> {
  return { ...t, filter: t.filter ? (JSON.parse(t.filter) as unknown) : null, created: t.created.toISOString() };
}

/** `stratus triggers add|ls|rm`: functions subscribed to NATS subjects. */
export function registerTriggerCommands(program: Command, run: Run): void {
  const triggers = program.command('triggers').description('subscribe functions to NATS subjects: every matching event becomes an async invocation');
  triggers
    .command('add <function> <subject>')
    .description("subscribe a function to a subject pattern such as orders.* or audit.>")
    .option('--qualifier <version|alias>', 'the version or alias its events run (default $LATEST)')
    .option('--filter <condition>', 'run only for events whose JSON data matches: path=value, or JSON like {"path":"type","in":["a","b"]}; repeat for conditions that must all hold', collect, [])
    .action((fn: string, subject: string, flags: { filter: string[]; qualifier?: string }) =>
      run(async ({ out, client }) => {
        const t = await (await client()).createTrigger(fn, subject, { filter: filterText(flags.filter), qualifier: flags.qualifier });
        if (out.json) return out.printJson(toJson(t));
        out.line(`${t.subject} → ${t.functionName} (id ${t.id}${t.filter ? `, filter ${t.filter}` : ''})`);
      }),
    );
  triggers
    .command('ls [function]')
    .description("list triggers (all, or one function's)")
    .action((fn: string | undefined) =>
      run(async ({ out, client }) => {
        const all = await (await client()).listTriggers(fn ?? '');
        if (out.json) return out.printJson(all.map(toJson));
        if (all.length === 0) return out.note('no triggers: add one with stratus triggers add <function> <subject>');
        out.printTable(['ID', 'FUNCTION', 'SUBJECT', 'FILTER', 'CREATED'], all.map((t) => [t.id, t.functionName, t.subject, t.filter || '-', t.created.toISOString()]));
      }),
    );
  triggers
    .command('rm <id>')
    .description('delete a trigger')
    .action((id: string) =>
      run(async ({ out, client }) => {
        await (await client()).deleteTrigger(id);
        if (out.json) return out.printJson({ deleted: id });
        out.line(`deleted trigger ${id}`);
      }),
    );
}
