import type { JetStreamManager } from '@nats-io/jetstream';
import { viaNats } from '../../sdk/platform/nats-errors';
import { kvOperation, type KvRevision } from './change-records';

function headersOf(h: { keys(): string[]; get(k: string): string } | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of h?.keys() ?? []) out[k] = h?.get(k) ?? '';
  return out;
}

/**
 * The revision of a key kept just before `revision`, or undefined when none is kept. A table keeps
 * at most `history` revisions per key, so walking the key's kept revisions from the oldest with
 * direct gets (next message on the key's subject) takes at most `history` small requests.
 */
export async function previousRevision(jsm: JetStreamManager, stream: string, subject: string, revision: number, maxSteps = 64): Promise<KvRevision | undefined> {
  let found: KvRevision | undefined;
  let seq = 1;
  for (let step = 0; step < maxSteps; step += 1) {
    const m = await viaNats(`reading the previous value of ${subject}`, () => jsm.direct.getMessage(stream, { next_by_subj: subject, seq }));
    if (!m || m.seq >= revision) return found;
    found = { revision: m.seq, operation: kvOperation(headersOf(m.header)), value: m.data };
    seq = m.seq + 1;
  }
  return found;
}
