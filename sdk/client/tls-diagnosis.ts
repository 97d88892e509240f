import * as net from 'node:net';
import * as tls from 'node:tls';
import { StratusError } from '../core/errors';
import type { ResolvedClientTls } from './client-options';

const CA_HINT = 'pass --ca-file (or STRATUS_CA_FILE) the CA that signed the router\'s certificate (stratus dev --tls writes one and puts it in the profile)';

function splitHostPort(endpoint: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(endpoint);
  return m ? { host: m[1] ?? '', port: Number(m[2]) } : undefined;
}

/**
 * When a router cannot be reached, says whether TLS is why: this client speaks plain text to a
 * TLS router, TLS to a plain-text one, or does not trust the router's certificate. grpc-js only
 * reports a failed channel, which would otherwise read as a router that is down. Undefined when
 * TLS is not the problem (nothing listens, the network is down) or when there is no time to look.
 */
export function diagnoseTls(endpoint: string, clientTls: ResolvedClientTls | undefined, untilMs: number): Promise<StratusError | undefined> {
  const target = splitHostPort(endpoint);
  const waitMs = untilMs - Date.now();
  if (!target || waitMs <= 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: StratusError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const servername = clientTls?.serverName ?? (net.isIP(target.host) ? undefined : target.host);
    // Verification is done below, by hand, so that an untrusted certificate can be told apart from no TLS at all.
    const socket = tls.connect({ host: target.host, port: target.port, servername, ca: clientTls?.ca, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const timer = setTimeout(() => finish(undefined), waitMs);
    socket.once('secureConnect', () => {
      if (!clientTls) {
        return finish(new StratusError('ServiceUnavailable', `the router at ${endpoint} serves TLS and this client spoke plain text: use grpcs://${endpoint}, or ${CA_HINT}`));
      }
      // Node reports a name mismatch as an authorization error (a code string), before any chain problem.
      const nameMismatch = String(socket.authorizationError ?? '').includes('ERR_TLS_CERT_ALTNAME_INVALID');
      const mismatch = nameMismatch ? new Error(String(socket.authorizationError)) : socket.authorized ? tls.checkServerIdentity(clientTls.serverName ?? target.host, socket.getPeerCertificate()) : undefined;
      if (mismatch) {
        return finish(new StratusError('Unauthenticated', `the router's certificate at ${endpoint} is not for ${clientTls.serverName ?? target.host} (${mismatch.message}): dial a name the certificate lists, or reissue it with this one`));
      }
      if (!socket.authorized) {
        return finish(new StratusError('Unauthenticated', `the router at ${endpoint} presented a certificate this client does not trust (${String(socket.authorizationError)}): ${CA_HINT}`));
      }
      finish(undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const handshakeFailed = err.code !== 'ECONNREFUSED' && err.code !== 'EHOSTUNREACH' && err.code !== 'ENETUNREACH' && err.code !== 'ETIMEDOUT' && err.code !== 'ENOTFOUND';
      if (clientTls && handshakeFailed) {
        return finish(new StratusError('ServiceUnavailable', `the router at ${endpoint} does not speak TLS (${err.message}): drop --ca-file and STRATUS_CA_FILE and use grpc://${endpoint}, or give the router STRATUS_TLS_CERT_FILE and STRATUS_TLS_KEY_FILE`));
      }
      finish(undefined);
    });
  });
}
