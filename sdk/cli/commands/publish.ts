import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

interface PublishFlags {
  payloadFile?: string;
  msgId?: string;
  header: string[];
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function payloadFrom(arg: string | undefined, flags: PublishFlags): Promise<Buffer> {
  if (arg !== undefined && flags.payloadFile !== undefined) throw new StratusError('InvalidRequest', 'give the payload once: as an argument or with --payload-file, not both');
  if (arg !== undefined) return Buffer.from(arg);
  if (flags.payloadFile !== undefined) {
    return fs.readFile(flags.payloadFile).catch((cause: unknown) => {
      throw new StratusError('InvalidRequest', `cannot read --payload-file ${flags.payloadFile}: ${(cause as Error).message}`, { cause });
    });
  }
  return process.stdin.isTTY ? Buffer.alloc(0) : readStdin();
}

function headers(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new StratusError('InvalidRequest', `--header ${h}: write name=value`);
    out[h.slice(0, eq)] = h.slice(eq + 1);
  }
  return out;
}

/** `stratus publish <subject> [payload]`: an event for the functions subscribed to the subject. */
export function registerPublishCommand(program: Command, run: Run): void {
  program
    .command('publish <subject> [payload]')
    .description('publish an event to a NATS subject; functions with a matching trigger run with it')
    .option('--payload-file <file>', 'read the payload from a file (default: the argument, or stdin when piped)')
    .option('--msg-id <id>', 'Nats-Msg-Id: a repeat within two minutes is captured once')
    .option('--header <name=value>', 'a NATS header (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .action((subject: string, payload: string | undefined, flags: PublishFlags) =>
      run(async ({ out, client }) => {
        const body = await payloadFrom(payload, flags);
        const res = await (await client()).publish(subject, body, { msgId: flags.msgId, headers: headers(flags.header) });
        if (out.json) return out.printJson(res);
        if (!res.captured) return out.line(`published to ${subject} (no trigger subscribes to it: nothing was stored)`);
        out.line(res.duplicate ? `duplicate of an event already captured (msg id ${flags.msgId})` : `captured as event ${res.sequence} on ${subject}`);
      }),
    );
}
