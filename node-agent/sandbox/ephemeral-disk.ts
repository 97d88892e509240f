import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Options for {@link EphemeralDisks}. */
export interface EphemeralDiskOptions {
  /** Where images and mount points live (under the agent's data directory). */
  dir: string;
  /** Owner of each disk's root: the host user sandboxes run as. */
  uid: number;
  gid: number;
  mkfsPath: string;
  mountPath: string;
  umountPath: string;
  losetupPath: string;
}

/** One instance's /tmp: mounted at `path` until released. */
export interface EphemeralDisk {
  path: string;
  sizeMb: number;
  /** Unmounts and deletes it; once-only, never rejects (a failure is left for the next start-up's sweep). */
  release(): Promise<void>;
}

/** An image this much larger than the storage it must give: ext4's inode tables and group descriptors (about 2.5% at 512 MB, 1% at 10 GB). */
export function imageSizeMb(storageMb: number): number {
  return storageMb + Math.ceil(storageMb * 0.02) + 16;
}

/**
 * Each instance's /tmp as a disk of its own: a sparse file under the agent's data directory,
 * formatted ext4 and loop-mounted with direct I/O, then bound into the sandbox. Why this way:
 * - tmpfs pages are charged to the instance's memory cgroup (a 256 MB function could not fill a
 *   512 MB /tmp), while a disk's page cache is reclaimable, and direct I/O on the loop device keeps
 *   it from being cached twice;
 * - the filesystem's size is the cap, so a full /tmp is ENOSPC for the function, as on Lambda, not
 *   a kill; no quota support is needed from the host's filesystem;
 * - making one costs about 10 ms (mkfs of a sparse file with lazy inode tables, and a mount), paid
 *   where a sandbox is built: for pre-started runtimes, before any invocation.
 * It needs root (mount, loop devices): {@link EphemeralDisks.unavailable} says when it cannot be used.
 */
export class EphemeralDisks {
  constructor(private readonly options: EphemeralDiskOptions) {}

  /** Why disks cannot be made here, or undefined when they can. */
  static async unavailable(o: Pick<EphemeralDiskOptions, 'mkfsPath' | 'losetupPath'>): Promise<string | undefined> {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'the agent is not root (loop mounts need it)';
    if (!existsSync('/dev/loop-control')) return 'the host has no loop devices (/dev/loop-control)';
    for (const tool of [o.mkfsPath, o.losetupPath]) {
      try {
        await run(tool, ['-V']);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `${tool} is not installed (apt-get install e2fsprogs mount)`;
      }
    }
    return undefined;
  }

  /** Makes, formats and mounts a disk of `sizeMb` for an instance. */
  async create(instanceId: string, sizeMb: number): Promise<EphemeralDisk> {
    const o = this.options;
    const image = path.join(o.dir, `${instanceId}.img`);
    const mountPoint = path.join(o.dir, instanceId);
    // Passable, not listable: bwrap runs as the sandbox's host user and must reach its own mount point.
    await fs.mkdir(o.dir, { recursive: true, mode: 0o711 });
    await fs.mkdir(mountPoint, { mode: 0o700 });
    let device: string | undefined;
    let mounted = false;
    const cleanup = async (): Promise<void> => {
      if (mounted) await run(o.umountPath, [mountPoint]).catch(() => run(o.umountPath, ['-l', mountPoint]).catch(() => undefined));
      if (device) await run(o.losetupPath, ['-d', device]).catch(() => undefined);
      await fs.rm(mountPoint, { recursive: true, force: true }).catch(() => undefined);
      await fs.rm(image, { force: true }).catch(() => undefined);
    };
    try {
      const handle = await fs.open(image, 'wx', 0o600);
      await handle.truncate(imageSizeMb(sizeMb) * 1024 * 1024);
      await handle.close();
      // No journal (nothing on it outlives the instance), lazy inode tables (format in ms), no reserved blocks.
      await run(o.mkfsPath, ['-q', '-F', '-O', '^has_journal', '-E', `lazy_itable_init=1,nodiscard,root_owner=${o.uid}:${o.gid}`, '-m', '0', '-i', '65536', image]);
      device = (await run(o.losetupPath, ['--find', '--show', '--direct-io=on', image])).stdout.trim();
      await run(o.mountPath, ['-t', 'ext4', '-o', 'nodev,nosuid,noatime', device, mountPoint]);
      mounted = true;
      // The function's /tmp starts empty.
      await fs.rm(path.join(mountPoint, 'lost+found'), { recursive: true, force: true });
    } catch (err) {
      await cleanup();
      throw new Error(`could not make a ${sizeMb} MB /tmp disk: ${(err as Error).message}`);
    }
    let released: Promise<void> | undefined;
    return {
      path: mountPoint,
      sizeMb,
      release: () => (released ??= cleanup()),
    };
  }

  /** Unmounts, detaches and deletes what an agent that died left behind; returns how many disks it found. */
  async sweep(): Promise<number> {
    const o = this.options;
    const prefix = `${path.resolve(o.dir)}/`;
    const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
    for (const line of mounts.split('\n')) {
      // Field 5 is the mount point (octal escapes for spaces; ours have none).
      const mountPoint = line.split(' ')[4];
      if (mountPoint?.startsWith(prefix)) await run(o.umountPath, ['-l', mountPoint]).catch(() => undefined);
    }
    const loops = await run(o.losetupPath, ['--list', '--noheadings', '--raw', '--output', 'NAME,BACK-FILE']).then((r) => r.stdout, () => '');
    for (const line of loops.split('\n')) {
      const [device, backing] = line.trim().split(/\s+/, 2);
      if (device && backing?.startsWith(prefix)) await run(o.losetupPath, ['-d', device]).catch(() => undefined);
    }
    const entries = await fs.readdir(o.dir).catch(() => [] as string[]);
    for (const entry of entries) await fs.rm(path.join(o.dir, entry), { recursive: true, force: true }).catch(() => undefined);
    return entries.filter((e) => e.endsWith('.img')).length;
  }
}
