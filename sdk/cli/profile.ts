import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where and how the CLI reaches a cluster. */
export interface Profile {
  endpoint: string;
  token: string;
  /** CA of the routers' TLS certificates; set, the CLI speaks TLS and verifies against it. */
  caFile?: string;
  /** How users' own NATS clients reach the cluster (written by stratus dev: the stratus-client user). */
  nats?: { url: string; user: string; password: string; caFile?: string };
}

interface ProfileFile {
  currentProfile?: string;
  profiles?: Record<string, Profile>;
}

/** The profile file's path: STRATUS_CONFIG, else $XDG_CONFIG_HOME/stratus/config.json, else ~/.config/stratus/config.json. */
export function profilePath(env: NodeJS.ProcessEnv): string {
  if (env.STRATUS_CONFIG) return env.STRATUS_CONFIG;
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'stratus', 'config.json');
}

async function readFile(file: string): Promise<ProfileFile> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as ProfileFile;
  } catch {
    return {};
  }
}

/** Reads a named profile (default: the file's current one), if present. */
export async function readProfile(file: string, name?: string): Promise<Profile | undefined> {
  const data = await readFile(file);
  return data.profiles?.[name ?? data.currentProfile ?? 'default'];
}

/** Writes a profile (readable by its owner only, as it holds a token) and makes it current. */
export async function writeProfile(file: string, name: string, profile: Profile): Promise<void> {
  const data = await readFile(file);
  data.profiles = { ...(data.profiles ?? {}), [name]: profile };
  data.currentProfile = name;
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
}
