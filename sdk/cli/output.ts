import Table from 'cli-table3';
import { StratusError } from '../core/errors';

/** Exit codes: 0 success, 1 the function failed, 2 the request failed, 3 bad usage. */
export const EXIT = { ok: 0, functionError: 1, requestError: 2, usage: 3 } as const;

/** Where and how a command prints. */
export interface Output {
  json: boolean;
  /** Prints a value as JSON (scripts) — one document per command. */
  printJson(value: unknown): void;
  /** Prints rows as a human table. */
  printTable(head: string[], rows: Array<Array<string | number>>): void;
  /** A line for humans on stdout. */
  line(text: string): void;
  /** A line for humans on stderr (progress, notes) so stdout stays clean for results. */
  note(text: string): void;
}

/** The standard output of a CLI run. */
export function createOutput(json: boolean): Output {
  return {
    json,
    printJson: (value) => {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    printTable: (head, rows) => {
      const table = new Table({ head, style: { head: [], border: [] } });
      for (const row of rows) table.push(row.map(String));
      process.stdout.write(`${table.toString()}\n`);
    },
    line: (text) => {
      process.stdout.write(`${text}\n`);
    },
    note: (text) => {
      process.stderr.write(`${text}\n`);
    },
  };
}

/** Prints an error the way every command does, and returns the exit code to use. */
export function reportError(err: unknown, json: boolean): number {
  if (err instanceof StratusError) {
    if (json) process.stderr.write(`${JSON.stringify({ error: { code: err.code, message: err.message, retryAfterMs: err.retryAfterMs } })}\n`);
    else process.stderr.write(`error [${err.code}]: ${err.message}\n`);
    // A payload that is not JSON is the caller's input to fix, like any other bad argument.
    return err.code === 'InvalidRequest' || err.code === 'InvalidRequestContent' ? EXIT.usage : EXIT.requestError;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(json ? `${JSON.stringify({ error: { code: 'Internal', message } })}\n` : `error: ${message}\n`);
  return EXIT.requestError;
}

/** A size in bytes for humans. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
