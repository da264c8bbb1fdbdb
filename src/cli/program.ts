import { Command, CommanderError } from 'commander';
import { ImprintError } from '../core/errors.ts';
import { deviceCommand, modelCommand, tenantCommand } from './device.ts';
import { deviceUpdateCommand } from './device-update.ts';
import { initCommand } from './init.ts';
import { serveCommand } from './serve.ts';
import { tokenCommand } from './token.ts';
import { auditCommand } from './audit.ts';
import { cliActor, openFromProgram } from './context.ts';
import { caCommand, certCommand } from './ca.ts';
import { claimCommand, deviceSimulateCommand, factoryCommand, manifestCommand } from './factory.ts';
import { firmwareCommand, type OpenFirmware } from './firmware.ts';
import { sztpCommand } from './sztp.ts';
import { deviceIdevidCommand, deviceOnboardCommand } from './device-onboard.ts';
import { createFeatures } from '../server/features.ts';
import { ValidationError } from '../core/errors.ts';

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
  const withFeatures = async () => {
    const p = await open();
    return { p, f: createFeatures(p) };
  };
  const openPki = async () => {
    const { p, f } = await withFeatures();
    return { pki: f.pki, registry: p.registry, close: () => p.close() };
  };
  const openFactory = async () => {
    const { p, f } = await withFeatures();
    return { ...f.factory, close: () => p.close() };
  };
  const openSztp = async () => {
    const { p, f } = await withFeatures();
    return { admin: f.sztpAdmin, bootstrap: f.sztpBootstrap, actor: cliActor(), close: () => p.close() };
  };
  const openFirmware: OpenFirmware = async (_cmd, fn) => {
    const { p, f } = await withFeatures();
    try {
      const tenant = (await p.registry.listTenants()).find((t) => t.kind === 'manufacturer');
      if (tenant === undefined) throw new ValidationError('ERR_TENANT_NOT_FOUND', 'no manufacturer tenant');
      return await fn({ signing: f.signing, tenantId: tenant.id, actor: cliActor().actor });
    } finally {
      await p.close();
    }
  };
  const device = deviceCommand();
  device.addCommand(deviceSimulateCommand());
  device.addCommand(deviceOnboardCommand());
  device.addCommand(deviceIdevidCommand());
  device.addCommand(deviceUpdateCommand());
  for (const cmd of [
    initCommand(),
    serveCommand(),
    tokenCommand(),
    tenantCommand(),
    modelCommand(),
    device,
    auditCommand(openAudit),
    caCommand(openPki),
    certCommand(openPki),
    factoryCommand(openFactory),
    manifestCommand(openFactory),
    claimCommand(openFactory),
    sztpCommand(openSztp),
    firmwareCommand(openFirmware),
  ]) {
    program.addCommand(cmd);
  }
  return program;
}

/** Runs the CLI; errors become one clear line on stderr and a non-zero exit. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    // Commands that finish without an error but with a negative outcome (a refused update) set exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
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
