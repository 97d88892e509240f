import type { Command } from 'commander';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';

function sequence(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new StratusError('InvalidRequest', `'${value}' is not a dead letter id: use the SEQ column of stratus dlq ls`);
  return n;
}

/** `stratus dlq ls|show|redrive|purge <fn>`: a function's dead letters. */
export function registerDlqCommands(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  const dlq = program.command('dlq').description("inspect, redrive and purge a function's dead letters (async events that failed for good)");
  dlq
    .command('ls <function>')
    .description('list dead letters, oldest first')
    .option('--max <n>', 'at most this many', '100')
    .action((fn: string, flags: { max: string }) =>
      run(async ({ out, client }) => {
        const { deadLetters } = await (await client()).listDeadLetters(fn, 0, Number(flags.max) || 100);
        if (out.json) return out.printJson(deadLetters);
        if (deadLetters.length === 0) return out.note(`no dead letters for ${fn}`);
        out.printTable(
          ['SEQ', 'REQUEST ID', 'CONDITION', 'ATTEMPTS', 'ERROR', 'TIME'],
          deadLetters.map((d) => [d.sequence, d.requestId, d.condition, d.approximateInvokeCount, `${d.errorType}: ${d.errorMessage}`.slice(0, 60), d.time.toISOString()]),
        );
      }),
    );
  dlq
    .command('show <function> <seq>')
    .description("print a dead letter's invocation record")
    .action((fn: string, seq: string) =>
      run(async ({ out, client }) => {
        const d = await (await client()).getDeadLetter(fn, sequence(seq));
        out.printJson(out.json ? d : d.record);
      }),
    );
  dlq
    .command('redrive <function> [seqs...]')
    .description('run dead letters again (all of them when no ids are given)')
    .action((fn: string, seqs: string[]) =>
      run(async ({ out, client }) => {
        const res = await (await client()).redriveDeadLetters(fn, seqs.map(sequence));
        if (out.json) return out.printJson(res);
        out.line(`redrove ${res.redriven} event(s) of ${fn}`);
      }),
    );
  dlq
    .command('purge <function>')
    .description('delete all dead letters of a function')
    .action((fn: string) =>
      run(async ({ out, client }) => {
        const purged = await (await client()).purgeDeadLetters(fn);
        if (out.json) return out.printJson({ purged });
        out.line(`purged ${purged} dead letter(s) of ${fn}`);
      }),
    );
}
