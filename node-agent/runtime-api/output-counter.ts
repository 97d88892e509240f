import type { OutputMark } from './runtime-api-server';

/** Longest an invocation's end waits for output the runtime says it wrote. */
const DEFAULT_WAIT_MS = 50;

/**
 * Counts the bytes read from an instance's stdout and stderr, and tells when they reach the
 * counts a runtime reported with its result ({@link OutputMark}): the output pipes and the
 * Runtime API socket race, so a line logged just before the result can be read after it.
 *
 * A mark is only ever waited for `waitMs`. If it was not reached by then, the difference is
 * remembered and taken off later marks: a runtime that counts bytes the agent never sees (a write
 * before the pipes were read from, say) costs one wait, not one per invocation.
 */
export class OutputCounter {
  private out = 0;
  private err = 0;
  private offset: OutputMark = { out: 0, err: 0 };
  private readonly waiters = new Set<() => void>();

  constructor(private readonly waitMs = DEFAULT_WAIT_MS) {}

  /** Bytes read from one of the pipes (after their lines went to the log). */
  received(stream: 'out' | 'err', bytes: number): void {
    if (stream === 'out') this.out += bytes;
    else this.err += bytes;
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once the pipes have delivered `mark`'s bytes, or after the wait. Never rejects. */
  reached(mark: OutputMark): Promise<void> {
    const done = (): boolean => this.out >= mark.out - this.offset.out && this.err >= mark.err - this.offset.err;
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        finish();
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.offset = { out: Math.max(this.offset.out, mark.out - this.out), err: Math.max(this.offset.err, mark.err - this.err) };
        finish();
      }, this.waitMs);
      timer.unref();
      this.waiters.add(check);
    });
  }
}
