/**
 * The Python runtime's HTTP client (stratus_runtime/runtime_client.py) on the wire: how it writes
 * its requests, which decides whether pasta's Nagle-enabled splice socket holds part of a post back.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import * as path from 'node:path';

const RUNTIME_DIR = __dirname;
const PYTHON = process.env.STRATUS_PYTHON || 'python3';

/** A loopback server answering every request with 202 and recording the first chunk each request arrived in. */
function recordingServer(): Promise<{ server: Server; port: number; firstChunks: string[] }> {
  const firstChunks: string[] = [];
  const server = createServer((socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      if (pending === '') firstChunks.push(chunk.toString('latin1'));
      pending += chunk.toString('latin1');
      const headerEnd = pending.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(pending.slice(0, headerEnd))?.[1] ?? 0);
      if (pending.length < headerEnd + 4 + length) return;
      pending = pending.slice(headerEnd + 4 + length);
      socket.write('HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"status":"OK"}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, firstChunks })));
}

function runPython(script: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, ['-c', script], { env: { PATH: process.env.PATH, PYTHONPATH: path.resolve(RUNTIME_DIR), PYTHONDONTWRITEBYTECODE: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('python runtime client', () => {
  test('runtime client writes each post in one piece, headers and body together, when posting results and errors', async () => {
    const { server, port, firstChunks } = await recordingServer();
    try {
      // Counts the socket writes (http.client writes through sendall): on loopback the kernel may
      // merge two writes into one read, so the chunks alone could not tell one write from two.
      const script = [
        'import os, socket, sys',
        'writes = []',
        '_sendall = socket.socket.sendall',
        'def counting(self, data, *args):',
        '    writes.append(len(data))',
        '    return _sendall(self, data, *args)',
        'socket.socket.sendall = counting',
        'from stratus_runtime.runtime_client import RuntimeClient',
        'c = RuntimeClient(os.environ["API"])',
        'for i in range(20):',
        '    c.post_response("req-%d" % i, b\'{"hello":"world"}\', "application/json")',
        'c.post_error("req-x", {"errorType": "ValueError", "errorMessage": "boom", "stackTrace": []})',
        'if len(writes) != 21: sys.exit("%d socket writes for 21 posts: %r" % (len(writes), writes))',
      ].join('\n');
      const { code, stderr } = await runPython(script, { API: `127.0.0.1:${port}` });
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(firstChunks).toHaveLength(21);
      // Two writes (http.client's own way) show as a first chunk that ends at the header block.
      for (const chunk of firstChunks.slice(0, 20)) expect(chunk.endsWith('\r\n\r\n{"hello":"world"}')).toBe(true);
      expect(firstChunks[20]).toMatch(/\r\n\r\n\{"errorType": "ValueError", "errorMessage": "boom", "stackTrace": \[\]\}$/);
    } finally {
      server.close();
    }
  });
});
