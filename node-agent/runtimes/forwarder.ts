/**
 * Runs inside a sandbox cut off from the network: serves the Runtime API on 127.0.0.1:9001 of the
 * sandbox's own loopback by relaying each connection to the agent's Unix socket (mounted into the
 * sandbox), then runs the real runtime pointed at it. Node builtins only: it runs as
 * `node forwarder.js <socket> <command> [args...]`.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { constants } from 'node:os';

const PORT = 9001;

function main(argv: string[]): void {
  const [socketPath, command, ...args] = argv;
  if (!socketPath || !command) {
    process.stderr.write('usage: forwarder <runtime-api-socket> <command> [args...]\n');
    process.exit(2);
  }
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.on('error', (err) => {
    process.stderr.write(`forwarder: cannot serve the Runtime API: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(PORT, '127.0.0.1', () => {
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${PORT}` } });
    child.on('error', (err) => {
      process.stderr.write(`forwarder: cannot start ${command}: ${err.message}\n`);
      process.exit(1);
    });
    // Exit as the runtime did, so the agent reports its exit status or signal as its own.
    child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}

main(process.argv.slice(2));
