import { runtimeLogEnvironment } from '../../sdk/core/function-logs';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { StratusError } from '../../sdk/core/errors';
import type { FunctionRecord } from '../../sdk/core/function-config';
import { RUNTIME_CHANNEL_VARIABLE } from '../runtimes/nodejs/frames';
import type { InstancePaths, LaunchPlan } from '../sandbox/instance-sandbox';

export type { LaunchPlan } from '../sandbox/instance-sandbox';

/** What the launcher needs to know about the host and this instance. */
export interface LaunchContext {
  record: FunctionRecord;
  instanceId: string;
  /** Where the instance sees its code, layers and runtime files (inside its sandbox). */
  paths: InstancePaths;
  /** The code and layers folders on the host, to find a custom runtime's bootstrap. */
  hostCodeDir: string;
  hostLayersDir: string | undefined;
  runtimeApi: string;
  /**
   * An abstract Unix socket name (written `@name`) on which the agent also serves the Runtime API:
   * the built-in Node.js runtime opens its frame channel there instead of over loopback TCP.
   */
  runtimeChannel?: string;
  region: string;
  /** The Node.js binary that runs nodejs functions (the agent's own, by default). */
  nodeBinary: string;
  /** The Python 3 binary that runs python functions. */
  pythonBinary: string;
}

function logStreamName(instanceId: string, version: string, now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '/');
  return `${day}/[${version}]${instanceId.replace(/-/g, '')}`;
}

/**
 * The part of Lambda's runtime environment that is the same for every function of a runtime:
 * defaults a function may override, and the runtime's folders, which it may not. Fresh and
 * pre-started runtimes both start with it, so they cannot drift apart.
 */
function runtimeEnvironment(runtime: string, paths: InstancePaths): { defaults: Record<string, string>; folders: Record<string, string> } {
  const runtimeDir = path.posix.join(paths.runtimeDir, runtime);
  return {
    defaults: {
      LANG: 'en_US.UTF-8',
      PATH: `/usr/local/bin:/usr/bin/:/bin:${paths.opt}/bin`,
      LD_LIBRARY_PATH: `/lib64:/usr/lib64:${runtimeDir}:${runtimeDir}/lib:${paths.taskRoot}:${paths.taskRoot}/lib:${paths.opt}/lib`,
      TZ: 'UTC',
      HOME: '/tmp',
    },
    folders: { LAMBDA_TASK_ROOT: paths.taskRoot, LAMBDA_RUNTIME_DIR: runtimeDir },
  };
}

/** The environment Lambda gives a runtime (reference: lambda-runtime-api.md §6), then the function's own. */
function baseEnvironment(ctx: LaunchContext): Record<string, string> {
  const { record, paths } = ctx;
  const fixed = runtimeEnvironment(record.runtime, paths);
  return {
    ...fixed.defaults,
    // The logging config sets the format and level; a variable the function set itself (the way
    // before the config existed) still wins.
    ...runtimeLogEnvironment(record.config.logging),
    ...record.config.environment,
    _HANDLER: record.config.handler,
    AWS_REGION: ctx.region,
    AWS_DEFAULT_REGION: ctx.region,
    AWS_LAMBDA_FUNCTION_NAME: record.config.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(record.config.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: record.version,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${record.config.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(ctx.instanceId, record.version),
    AWS_LAMBDA_RUNTIME_API: ctx.runtimeApi,
    ...fixed.folders,
  };
}

/** The V8 heap limit a nodejs instance of `memoryMb` starts with. */
export function nodeHeapMb(memoryMb: number): number {
  // V8 collects garbage before the heap reaches the function's memory size instead of growing
  // towards its multi-GB default; the sandbox's memory limit is the hard cap.
  return Math.max(64, Math.floor(memoryMb * 0.85));
}

/** The runtime-specific part of a launch: command, arguments and the variables the runtime starts with. */
function runtimeCommand(
  runtime: 'nodejs' | 'python',
  paths: InstancePaths,
  memoryMb: number,
  binaries: { nodeBinary: string; pythonBinary: string },
): { command: string; args: string[]; env: Record<string, string> } {
  const runtimeDir = path.posix.join(paths.runtimeDir, runtime);
  if (runtime === 'nodejs') {
    const major = process.versions.node.split('.')[0];
    return {
      command: binaries.nodeBinary,
      args: [`--max-old-space-size=${nodeHeapMb(memoryMb)}`, path.posix.join(paths.runtimeDir, 'nodejs', 'bootstrap.js')],
      env: {
        AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${major}.x`,
        NODE_PATH: [`${paths.opt}/nodejs/node${major}/node_modules`, `${paths.opt}/nodejs/node_modules`, `${runtimeDir}/node_modules`].join(':'),
      },
    };
  }
  return {
    command: binaries.pythonBinary,
    args: ['-u', path.posix.join(paths.runtimeDir, 'python', 'bootstrap.py')],
    env: { AWS_EXECUTION_ENV: 'AWS_Lambda_python3', PYTHONPATH: [paths.taskRoot, `${paths.opt}/python`].join(':'), PYTHONDONTWRITEBYTECODE: '1' },
  };
}

/** Plans the process for an instance of `ctx.record`'s runtime, in the paths the instance sees. */
export function planLaunch(ctx: LaunchContext): LaunchPlan {
  const env = baseEnvironment(ctx);
  const { paths } = ctx;
  const runtime = ctx.record.runtime;
  switch (runtime) {
    case 'nodejs':
    case 'python': {
      const planned = runtimeCommand(runtime, paths, ctx.record.config.memoryMb, ctx);
      const channel: Record<string, string> = runtime === 'nodejs' && ctx.runtimeChannel ? { [RUNTIME_CHANNEL_VARIABLE]: ctx.runtimeChannel } : {};
      return { command: planned.command, args: planned.args, env: { ...env, ...planned.env, ...channel }, cwd: paths.taskRoot };
    }
    case 'provided': {
      // As Lambda: the bundle's bootstrap first, else one a layer brought.
      if (existsSync(path.join(ctx.hostCodeDir, 'bootstrap'))) return { command: path.posix.join(paths.taskRoot, 'bootstrap'), args: [], env, cwd: paths.taskRoot };
      if (ctx.hostLayersDir && existsSync(path.join(ctx.hostLayersDir, 'bootstrap'))) return { command: path.posix.join(paths.opt, 'bootstrap'), args: [], env, cwd: paths.taskRoot };
      throw new StratusError('InvalidCode', "a provided-runtime function needs an executable named 'bootstrap' at the top of its bundle or of one of its layers");
    }
    default: {
      const unreachable: never = runtime;
      throw new StratusError('InvalidRequest', `unknown runtime ${String(unreachable)}`);
    }
  }
}

/** The runtimes that can be pre-started: they load the user's code themselves, after start-up. */
export type StandbyRuntime = 'nodejs' | 'python';

/** File descriptor on which a pre-started runtime says it is ready and receives its assignment. */
export const STANDBY_FD = 3;

/**
 * Plans a pre-started runtime: the same command a fresh instance of `memoryMb` runs, with only the
 * variables that are the same for every function (the sandbox's fixed paths). The function's full
 * environment (planLaunch's) arrives with the assignment.
 */
export function planStandbyLaunch(
  runtime: StandbyRuntime,
  paths: InstancePaths,
  memoryMb: number,
  binaries: { nodeBinary: string; pythonBinary: string },
): LaunchPlan {
  const planned = runtimeCommand(runtime, paths, memoryMb, binaries);
  const fixed = runtimeEnvironment(runtime, paths);
  const env: Record<string, string> = {
    ...fixed.defaults,
    ...fixed.folders,
    ...planned.env,
    STRATUS_STANDBY_FD: String(STANDBY_FD),
  };
  return { command: planned.command, args: planned.args, env, cwd: paths.taskRoot };
}

/**
 * Variables a process reads only while it starts (the dynamic linker, Node's and Python's own
 * options, the C library's locale and allocator): a function that sets one must start fresh.
 */
const START_TIME_VARIABLE = /^(NODE_|UV_|LD_|PYTHON|MALLOC_|LC_|GLIBC_|OPENSSL_)|^(LANG|LANGUAGE)$/;

/**
 * Why `record` cannot take a pre-started runtime whose /tmp is `ephemeralStorageMb` MB, or
 * undefined when it can. (A nodejs runtime must also have been started with the heap for its memory.)
 */
export function standbyMismatch(record: FunctionRecord, ephemeralStorageMb: number): string | undefined {
  const { config } = record;
  if (record.runtime === 'provided') return 'a custom runtime is started by its own bootstrap';
  if (config.networkDisabled) return 'pre-started sandboxes have network; this function runs without';
  if (config.ephemeralStorageMb !== ephemeralStorageMb) return `its /tmp size (${config.ephemeralStorageMb} MB) is not the pre-started ${ephemeralStorageMb} MB`;
  const early = Object.keys(config.environment ?? {}).find((name) => START_TIME_VARIABLE.test(name));
  if (early) return `its environment sets ${early}, which a process reads only when it starts`;
  return undefined;
}
