#!/usr/bin/env node
/** The `stratus` CLI's composition root: parses flags (commander), reads the environment, runs one command. */
import { Command } from 'commander';
import { registerAuthCommands, registerPermissionCommands, registerRoleCommands } from './commands/auth';
import { registerClusterCommand } from './commands/cluster';
import { registerUsageCommand } from './commands/usage';
import { registerInvocationCommands, registerLogsCommand } from './commands/logs';
import { registerConsoleCommand } from './commands/console';
import { registerVersionCommands } from './commands/versions';
import { registerDeployCommand } from './commands/deploy';
import { registerDevCommand } from './commands/dev';
import { registerDlqCommands } from './commands/dlq';
import { registerFunctionCommands } from './commands/functions';
import { registerInvokeCommand } from './commands/invoke';
import { registerLayerCommands } from './commands/layers';
import { registerMappingCommands } from './commands/mappings';
import { registerBucketCommands } from './commands/buckets';
import { registerTableCommands } from './commands/tables';
import { registerPublishCommand } from './commands/publish';
import { registerRouteCommands, registerUrlCommand } from './commands/routes';
import { registerScheduleCommands } from './commands/schedules';
import { registerTriggerCommands } from './commands/triggers';
import { createContext, type CliContext, type GlobalFlags } from './context';
import { EXIT, reportError } from './output';

function buildProgram(env: NodeJS.ProcessEnv): Command {
  const program = new Command();
  program
    .name('stratus')
    .description('Stratus: run functions on your own machines')
    .option('--endpoint <host:port>', 'router address, grpcs://host:port for TLS (or STRATUS_ENDPOINT, or the profile)')
    .option('--ca-file <pem>', 'CA that signed the routers\' TLS certificates; turns TLS on (or STRATUS_CA_FILE, or the profile)')
    .option('--token <token>', 'API token (or STRATUS_TOKEN, or the profile)')
    .option('--profile <name>', 'profile in the config file (or STRATUS_PROFILE)')
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError()
    .exitOverride();
  const run = async (action: (ctx: CliContext) => Promise<number | void>): Promise<void> => {
    const flags = program.opts<GlobalFlags>();
    const ctx = createContext(flags, env);
    let code: number = EXIT.ok;
    try {
      code = (await action(ctx)) ?? EXIT.ok;
    } catch (err) {
      code = reportError(err, Boolean(flags.json));
    }
    process.exitCode = code;
  };
  registerDevCommand(program, run);
  registerDeployCommand(program, run);
  registerInvokeCommand(program, run);
  registerFunctionCommands(program, run);
  registerClusterCommand(program, run);
  registerDlqCommands(program, run);
  registerLayerCommands(program, run);
  registerRouteCommands(program, run);
  registerUrlCommand(program, run);
  registerTriggerCommands(program, run);
  registerPublishCommand(program, run);
  registerScheduleCommands(program, run);
  registerMappingCommands(program, run);
  registerTableCommands(program, run);
  registerBucketCommands(program, run);
  registerAuthCommands(program, run);
  registerRoleCommands(program, run);
  registerPermissionCommands(program, run);
  registerUsageCommand(program, run);
  registerLogsCommand(program, run);
  registerInvocationCommands(program, run);
  registerConsoleCommand(program, run);
  registerVersionCommands(program, run);
  return program;
}

buildProgram(process.env)
  .parseAsync(process.argv)
  .then(() => {
    // Commands end by setting exitCode (dev only after its cluster stopped); open gRPC
    // channels must not keep a finished command alive.
    process.exit(process.exitCode ?? 0);
  })
  .catch((err: unknown) => {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') process.exit(0);
    process.exit(typeof e.exitCode === 'number' && e.code?.startsWith('commander.') ? EXIT.usage : reportError(err, false));
  });
