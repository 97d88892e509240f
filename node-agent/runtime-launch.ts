import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { StratusError } from '../sdk/core/errors';
import type { FunctionRecord } from '../sdk/core/function-config';
import type { InstancePaths, LaunchPlan } from './sandbox/instance-sandbox';

export type { LaunchPlan } from './sandbox/instance-sandbox';

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

/** The environment Lambda gives a runtime (reference: lambda-runtime-api.md §6), then the function's own. */
function baseEnvironment(ctx: LaunchContext): Record<string, string> {
  const { record, paths } = ctx;
  const runtimeDir = path.posix.join(paths.runtimeDir, record.runtime);
  return {
    LANG: 'en_US.UTF-8',
    PATH: `/usr/local/bin:/usr/bin/:/bin:${paths.opt}/bin`,
    LD_LIBRARY_PATH: `/lib64:/usr/lib64:${runtimeDir}:${runtimeDir}/lib:${paths.taskRoot}:${paths.taskRoot}/lib:${paths.opt}/lib`,
    TZ: 'UTC',
    HOME: '/tmp',
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
    LAMBDA_TASK_ROOT: paths.taskRoot,
    LAMBDA_RUNTIME_DIR: runtimeDir,
  };
}

/** Plans the process for an instance of `ctx.record`'s runtime, in the paths the instance sees. */
export function planLaunch(ctx: LaunchContext): LaunchPlan {
  const env = baseEnvironment(ctx);
  const { paths } = ctx;
  const runtime = ctx.record.runtime;
  switch (runtime) {
    case 'nodejs': {
      env.AWS_EXECUTION_ENV = `AWS_Lambda_nodejs${process.versions.node.split('.')[0]}.x`;
      env.NODE_PATH = [`${paths.opt}/nodejs/node${process.versions.node.split('.')[0]}/node_modules`, `${paths.opt}/nodejs/node_modules`, `${env.LAMBDA_RUNTIME_DIR}/node_modules`].join(':');
      // V8 collects garbage before the heap reaches the function's memory size instead of growing
      // towards its multi-GB default; the sandbox's memory limit is the hard cap.
      const heapMb = Math.max(64, Math.floor(ctx.record.config.memoryMb * 0.85));
      return {
        command: ctx.nodeBinary,
        args: [`--max-old-space-size=${heapMb}`, path.posix.join(paths.runtimeDir, 'nodejs', 'bootstrap.js')],
        env,
        cwd: paths.taskRoot,
      };
    }
    case 'python': {
      env.AWS_EXECUTION_ENV = 'AWS_Lambda_python3';
      env.PYTHONPATH = [paths.taskRoot, `${paths.opt}/python`].join(':');
      env.PYTHONDONTWRITEBYTECODE = '1';
      return { command: ctx.pythonBinary, args: ['-u', path.posix.join(paths.runtimeDir, 'python', 'bootstrap.py')], env, cwd: paths.taskRoot };
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
