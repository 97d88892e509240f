import { StratusClient } from '../client/stratus-client';
import { StratusError } from '../core/errors';
import { createOutput, type Output } from './output';
import { profilePath, readProfile } from './profile';

/** Global flags every command accepts. */
export interface GlobalFlags {
  endpoint?: string;
  token?: string;
  caFile?: string;
  profile?: string;
  json?: boolean;
}

/** What a command needs: output, and a client connected as the flags, environment or profile say. */
export interface CliContext {
  out: Output;
  env: NodeJS.ProcessEnv;
  client(): Promise<StratusClient>;
  /** The router endpoint the client dials (the first, when several) and whether it speaks TLS. */
  target(): Promise<{ endpoint: string; tls: boolean }>;
}

/** Resolves the connection: flags first, then STRATUS_ENDPOINT/STRATUS_TOKEN/STRATUS_CA_FILE, then the profile file. */
export function createContext(flags: GlobalFlags, env: NodeJS.ProcessEnv): CliContext {
  let client: StratusClient | undefined;
  const resolve = async (): Promise<{ endpoint: string; token: string; caFile: string | undefined }> => {
    const profile = await readProfile(profilePath(env), flags.profile ?? env.STRATUS_PROFILE);
    const endpoint = flags.endpoint ?? env.STRATUS_ENDPOINT ?? profile?.endpoint;
    const token = flags.token ?? env.STRATUS_TOKEN ?? profile?.token;
    if (!endpoint) {
      throw new StratusError('InvalidRequest', `no router endpoint: pass --endpoint host:port, set STRATUS_ENDPOINT, or run 'stratus dev' (it writes ${profilePath(env)})`);
    }
    if (!token) throw new StratusError('Unauthenticated', 'no API token: pass --token, set STRATUS_TOKEN, or run stratus dev (it writes a profile)');
    return { endpoint, token, caFile: flags.caFile ?? env.STRATUS_CA_FILE ?? profile?.caFile };
  };
  return {
    out: createOutput(Boolean(flags.json)),
    env,
    client: async () => {
      if (client) return client;
      const { endpoint, token, caFile } = await resolve();
      client = new StratusClient({ endpoints: endpoint, token, ...(caFile ? { tls: { caFile } } : {}) });
      return client;
    },
    target: async () => {
      const { endpoint, caFile } = await resolve();
      const first = endpoint.split(',')[0]!.trim();
      return { endpoint: first.replace(/^(grpcs?|https?):\/\//, ''), tls: Boolean(caFile) || /^(grpcs|https):\/\//.test(first) };
    },
  };
}
