/**
 * Versions and aliases as plain data (Lambda's model): a version is an immutable snapshot of
 * $LATEST's code and configuration, numbered from 1; an alias names a version and may send a share
 * of its traffic to a second one (routing config). Pure functions: the router stores them.
 */
import { StratusError } from './errors';
import { LATEST } from './function-config';

/** An alias: a name for a version, optionally splitting traffic with another. */
export interface AliasRecord {
  functionName: string;
  name: string;
  /** The version most traffic goes to. */
  functionVersion: string;
  description: string;
  /** A second version and the share (0 < weight < 1) of invocations it takes. */
  routing: { version: string; weight: number } | undefined;
  revisionId: string;
  lastModifiedMs: number;
}

const ALIAS_PATTERN = /^(?!\d+$)[A-Za-z0-9_-]{1,128}$/;
const VERSION_PATTERN = /^[1-9]\d{0,8}$/;

/** What a qualifier names. */
export type Qualifier = { kind: 'latest' } | { kind: 'version'; version: string } | { kind: 'alias'; alias: string };

/** Reads a qualifier as an invocation gives it: empty or $LATEST, a version number, or an alias name. */
export function parseQualifier(written: string): Qualifier {
  const q = written.trim();
  if (q === '' || q === LATEST) return { kind: 'latest' };
  if (VERSION_PATTERN.test(q)) return { kind: 'version', version: q };
  if (ALIAS_PATTERN.test(q)) return { kind: 'alias', alias: q };
  throw new StratusError('InvalidRequest', `qualifier '${written}': give $LATEST, a version number (1, 2, ...) or an alias name (letters, digits, '-' and '_', not all digits)`);
}

/** Checks an alias name; InvalidRequest says what names may be. */
export function validateAliasName(name: string): string {
  if (!ALIAS_PATTERN.test(name)) throw new StratusError('InvalidRequest', `alias name '${name}': use 1-128 letters, digits, '-' or '_', not all digits (a number is a version)`);
  return name;
}

/** Checks a version an alias may point at: a published number ($LATEST is not allowed, as in Lambda). */
export function validateAliasVersion(version: string): string {
  if (!VERSION_PATTERN.test(version)) throw new StratusError('InvalidRequest', `version '${version}': an alias points at a published version number (stratus versions publish makes one), not $LATEST`);
  return version;
}

/** Checks a routing config: another version, and its share strictly between 0 and 1. */
export function validateRouting(primary: string, routing: { version: string; weight: number } | undefined): { version: string; weight: number } | undefined {
  if (!routing || !routing.version) return undefined;
  validateAliasVersion(routing.version);
  if (routing.version === primary) throw new StratusError('InvalidRequest', `the routing version ${routing.version} is the alias's own version: name another version, or leave routing out`);
  if (!(routing.weight > 0 && routing.weight < 1)) throw new StratusError('InvalidRequest', `routing weight ${routing.weight}: give the second version's share as a number between 0 and 1, e.g. 0.1`);
  return { version: routing.version, weight: routing.weight };
}

/** The version an invocation through `alias` runs: its own, or the routing version with its weight's probability. */
export function pickVersion(alias: Pick<AliasRecord, 'functionVersion' | 'routing'>, random: number): string {
  return alias.routing && random < alias.routing.weight ? alias.routing.version : alias.functionVersion;
}

/** A function destination's target, `name` or `name:qualifier` (a version or alias, as a qualified Lambda ARN). */
export function splitFunctionTarget(target: string): { name: string; qualifier: string } {
  const colon = target.indexOf(':');
  return colon < 0 ? { name: target, qualifier: '' } : { name: target.slice(0, colon), qualifier: target.slice(colon + 1) };
}
