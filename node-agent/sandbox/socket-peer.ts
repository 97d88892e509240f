import { promises as fs } from 'node:fs';
import type { Socket } from 'node:net';

/** `127.0.0.1:port` as /proc/net/tcp writes it (address in host byte order, port in hex). */
function procLoopback(port: number): string {
  return `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The inode of the socket at the other end of loopback TCP connection `socket`, from the host's
 * /proc/net/tcp (the line whose local end is our remote end), or undefined when it is not there.
 */
export function peerInode(tcpTable: string, socket: { localPort: number; remotePort: number }): string | undefined {
  const local = procLoopback(socket.remotePort);
  const remote = procLoopback(socket.localPort);
  for (const line of tcpTable.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[2] === remote) return fields[9];
  }
  return undefined;
}

/**
 * Whether the other end of loopback connection `socket` is a socket process `pid` holds: how a
 * sandbox's Runtime API knows a connection came through that sandbox's own pasta and nothing else.
 */
export async function peerHeldBy(socket: Socket, pid: number): Promise<boolean> {
  if (socket.remoteAddress !== '127.0.0.1' || socket.localPort === undefined || socket.remotePort === undefined) return false;
  const inode = peerInode(await fs.readFile('/proc/net/tcp', 'utf8'), { localPort: socket.localPort, remotePort: socket.remotePort });
  if (!inode || inode === '0') return false;
  const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const links = await Promise.all(fds.map((fd) => fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return links.includes(`socket:[${inode}]`);
}
