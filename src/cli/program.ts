import { Command, CommanderError } from 'commander';
import { ImprintError } from '../core/errors.ts';
import { deviceCommand, modelCommand, tenantCommand } from './device.ts';
import { initCommand } from './init.ts';
import { serveCommand } from './serve.ts';
import { tokenCommand } from './token.ts';
import { auditCommand } from './audit.ts';
import { openFromProgram } from './context.ts';

/** The `imprint` program with every command group. */
export function buildProgram(): Command {
  const program = new Command('imprint')
    .description('Imprint: secure provisioning for embedded and IoT devices')
    .version('0.1.0')
    .option('--data-dir <dir>', 'installation directory (default $IMPRINT_DATA_DIR or ./imprint-data)')
    .option('--json', 'print data as JSON')
    .showHelpAfterError()
    .exitOverride();
  const open = () => openFromProgram(program);
  const openAudit = async () => {
    const p = await open();
    return { store: p.store, keys: p.keys, audit: p.auditService, close: () => p.close() };
  };
  for (const cmd of [
    initCommand(),
    serveCommand(),
    tokenCommand(),
    tenantCommand(),
    modelCommand(),
    deviceCommand(),
    auditCommand(openAudit),
  ]) {
    program.addCommand(cmd);
  }
  return program;
}

/** Runs the CLI; errors become one clear line on stderr and a non-zero exit. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof ImprintError) {
      process.stderr.write(`imprint: ${e.message} (${e.code})\n`);
      return e.status >= 500 ? 2 : 1;
    }
    process.stderr.write(`imprint: unexpected error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}
