/**
 * Reference baseline for benchmarks: a raw NATS responder in its own process, answering every
 * request on `bench.echo` with its payload. Usage: node nats-echo-server.js <nats-url> [user] [password]; prints
 * "ready" once subscribed (and flushed, so requests sent after it are answered).
 */
import { connect } from '@nats-io/transport-node';

async function main(url: string, user: string | undefined, pass: string | undefined): Promise<void> {
  const nc = await connect({ servers: url, user, pass });
  nc.subscribe('bench.echo', { callback: (err, msg) => void (err ? undefined : msg.respond(msg.data)) });
  await nc.flush();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    nc.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`nats echo server did not close cleanly: ${String(err)}\n`);
        process.exit(1);
      },
    );
  });
}

main(process.argv[2] ?? '', process.argv[3], process.argv[4]).catch((err: unknown) => {
  process.stderr.write(`nats echo server failed: ${(err as Error).message}\n`);
  process.exit(1);
});
