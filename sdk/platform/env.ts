/** Helpers for a main.ts reading its environment: unset and empty both mean "use the default". */
import type { NatsTlsFiles } from './tls';

/** A string variable, or undefined. */
export function envString(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** A numeric variable, or undefined; a malformed number fails loudly rather than silently defaulting. */
export function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = envString(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name}=${v} is not a number`);
  return n;
}

/** A comma-separated list variable. */
export function envList(env: NodeJS.ProcessEnv, name: string): string[] | undefined {
  const v = envString(env, name);
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** A boolean variable: 1/true/yes or 0/false/no. */
export function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const v = envString(env, name)?.toLowerCase();
  if (v === undefined) return undefined;
  return v === '1' || v === 'true' || v === 'yes';
}

/** NATS TLS files, read alike by routers and agents: STRATUS_NATS_CA_FILE, STRATUS_NATS_CERT_FILE, STRATUS_NATS_KEY_FILE. */
export function natsTlsFromEnv(env: NodeJS.ProcessEnv): NatsTlsFiles {
  return { caFile: envString(env, 'STRATUS_NATS_CA_FILE'), certFile: envString(env, 'STRATUS_NATS_CERT_FILE'), keyFile: envString(env, 'STRATUS_NATS_KEY_FILE') };
}
