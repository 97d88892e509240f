import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { StratusError } from '../../core/errors';

const run = promisify(execFile);

/** A local CA and one server certificate it signed, as PEM files. */
export interface DevCertificates {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Names the server certificate is for: what the dev cluster's programs are dialed by. */
const SERVER_NAMES = 'DNS:localhost,IP:127.0.0.1,IP:::1';
/** A certificate this close to expiry is made again rather than handed out. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

async function stillValid(file: string, now: number): Promise<boolean> {
  try {
    return new Date(new X509Certificate(await fs.readFile(file)).validTo).getTime() - now > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new StratusError('ServiceUnavailable', 'openssl is not installed: on Debian or Ubuntu run `sudo apt-get install openssl`', { cause });
    throw new StratusError('Internal', `openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`, { cause });
  }
}

/**
 * A CA and a server certificate for localhost, 127.0.0.1 and ::1 in `dir`, made with openssl on
 * first use and kept (so a profile's CA stays valid across restarts) until near expiry. The CA's
 * key stays in `dir`, readable by its owner only: whoever holds it can mint certificates the CLI
 * trusts. For trying TLS on one machine; production uses the operator's own CA.
 */
export async function ensureDevCertificates(dir: string, now = Date.now()): Promise<DevCertificates> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const files: DevCertificates = { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') };
  if ((await stillValid(files.caFile, now)) && (await stillValid(files.certFile, now))) return files;
  // P-256 keys: accepted by Node's TLS, grpc-js and nats-server's Go TLS alike, and quick to make.
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '825', '-subj', '/CN=Stratus dev CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await openssl(['req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=stratus-dev'], dir);
  await fs.writeFile(path.join(dir, 'server.ext'), `subjectAltName=${SERVER_NAMES}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n`);
  // 397 days: the longest validity TLS clients accept for a server certificate.
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '397', '-extfile', 'server.ext'], dir);
  await Promise.all(['ca.key', 'server.key'].map((f) => fs.chmod(path.join(dir, f), 0o600)));
  await Promise.all(['server.csr', 'server.ext', 'ca.srl'].map((f) => fs.rm(path.join(dir, f), { force: true })));
  return files;
}
