import * as path from 'node:path';
import { StratusError } from '../sdk/core/errors';
import type { FunctionRecord } from '../sdk/core/function-config';

/** How to start one instance's process. */
export interface LaunchPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/** What the launcher needs to know about the host and this instance. */
export interface LaunchContext {
  record: FunctionRecord;
  instanceId: string;
  codeDir: string;
  runtimeApi: string;
  region: string;
  /** The Node.js binary that runs nodejs functions (the agent's own, by default). */
  nodeBinary: string;
  /** Folder holding the compiled built-in runtimes (dist/node-agent/runtimes). */
  runtimesDir: string;
}

function logStreamName(instanceId: string, version: string, now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '/');
  return `${day}/[${version}]${instanceId.replace(/-/g, '')}`;
}

/** The environment Lambda gives a runtime (reference: lambda-runtime-api.md §6), then the function's own. */
function baseEnvironment(ctx: LaunchContext): Record<string, string> {
  const { record } = ctx;
  const runtimeDir = path.join(ctx.runtimesDir, record.runtime);
  const env: Record<string, string> = {
    LANG: 'en_US.UTF-8',
    PATH: '/usr/local/bin:/usr/bin/:/bin:/opt/bin',
    LD_LIBRARY_PATH: `/lib64:/usr/lib64:${runtimeDir}:${runtimeDir}/lib:${ctx.codeDir}:${ctx.codeDir}/lib:/opt/lib`,
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
    LAMBDA_TASK_ROOT: ctx.codeDir,
    LAMBDA_RUNTIME_DIR: runtimeDir,
  };
  return env;
}

/** Plans the process for an instance of `ctx.record`'s runtime. */
export function planLaunch(ctx: LaunchContext): LaunchPlan {
  const env = baseEnvironment(ctx);
  const runtime = ctx.record.runtime;
  switch (runtime) {
    case 'nodejs': {
      env.AWS_EXECUTION_ENV = `AWS_Lambda_nodejs${process.versions.node.split('.')[0]}.x`;
      env.NODE_PATH = ['/opt/nodejs/node20/node_modules', '/opt/nodejs/node_modules', path.join(env.LAMBDA_RUNTIME_DIR ?? '', 'node_modules')].join(':');
      // V8 collects garbage before the heap reaches the function's memory size instead of growing
      // towards its multi-GB default; the agent's memory watch is the hard cap.
      const heapMb = Math.max(64, Math.floor(ctx.record.config.memoryMb * 0.85));
      return {
        command: ctx.nodeBinary,
        args: [`--max-old-space-size=${heapMb}`, path.join(ctx.runtimesDir, 'nodejs', 'bootstrap.js')],
        env,
        cwd: ctx.codeDir,
      };
    }
    case 'provided':
      return { command: path.join(ctx.codeDir, 'bootstrap'), args: [], env, cwd: ctx.codeDir };
    case 'python':
      throw new StratusError('InvalidRequest', 'the python runtime is not available on this agent yet: deploy the function with the nodejs or provided runtime');
    default: {
      const unreachable: never = runtime;
      throw new StratusError('InvalidRequest', `unknown runtime ${String(unreachable)}`);
    }
  }
}
