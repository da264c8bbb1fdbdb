import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  CONFIG_FILE,
  defaultConfig,
  resolveDataDir,
  saveConfig,
  type ImprintConfig,
} from '../core/config.ts';
import { ConflictError, ValidationError } from '../core/errors.ts';
import { createLogger } from '../core/logging.ts';
import { createKekFile, KEK_ENV } from '../keys/kek.ts';
import { KEK_FILE, openPlatform } from '../server/platform.ts';
import { initHooks } from './init-hooks.ts';
import { cliActor, globals, output } from './context.ts';

interface InitOptions {
  manufacturer: string;
  host: string;
  port: string;
  publicUrl?: string;
  databaseUrl?: string;
  pkcs11Module?: string;
  pkcs11Token?: string;
}

/** `imprint init`: data dir, key-encryption key, database, manufacturer tenant, keys, TLS, first admin token. */
export function initCommand(): Command {
  return new Command('init')
    .description('create a new Imprint installation in the data dir')
    .option('--manufacturer <name>', 'name of the manufacturer tenant', 'Manufacturer')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'HTTPS port', '8443')
    .option('--public-url <url>', 'URL devices use to reach this server (default https://localhost:PORT)')
    .option('--database-url <url>', 'PostgreSQL URL (default: embedded SQLite in the data dir)')
    .option('--pkcs11-module <path>', 'PKCS#11 module for CA and signing keys (PIN from IMPRINT_PKCS11_PIN)')
    .option('--pkcs11-token <label>', 'PKCS#11 token label')
    .action(async (opts: InitOptions, self: Command) => {
      const dataDir = resolveDataDir(globals(self).dataDir);
      if (existsSync(join(dataDir, CONFIG_FILE))) {
        throw new ConflictError(
          'ERR_ALREADY_INITIALISED',
          `${dataDir} already holds an Imprint installation`,
        );
      }
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new ValidationError('ERR_VALIDATION', '--port must be 1-65535');
      if ((opts.pkcs11Module === undefined) !== (opts.pkcs11Token === undefined)) {
        throw new ValidationError('ERR_VALIDATION', '--pkcs11-module and --pkcs11-token go together');
      }
      const base = defaultConfig(dataDir);
      const config: ImprintConfig = {
        ...base,
        databaseUrl: opts.databaseUrl ?? base.databaseUrl,
        listen: { host: opts.host, port },
        publicUrl: opts.publicUrl ?? `https://localhost:${port}`,
        keyStore:
          opts.pkcs11Module === undefined || opts.pkcs11Token === undefined
            ? { backend: 'software' }
            : { backend: 'pkcs11', module: opts.pkcs11Module, tokenLabel: opts.pkcs11Token },
      };
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      if ((process.env[KEK_ENV] ?? '') === '') createKekFile(join(dataDir, KEK_FILE));
      saveConfig(config);
      const p = await openPlatform(config, { logger: createLogger('warn', process.stderr) });
      try {
        const by = cliActor();
        const manufacturer = await p.registry.createTenant(by, opts.manufacturer, 'manufacturer');
        const extra = await initHooks(p, manufacturer.id);
        const { token } = await p.tokens.create(by, {
          tenantId: manufacturer.id,
          name: 'initial admin',
          role: 'admin',
        });
        output(self, {
          dataDir,
          database: config.databaseUrl === undefined ? 'sqlite' : 'postgres',
          keyStore: config.keyStore.backend,
          manufacturer: manufacturer.name,
          manufacturerId: manufacturer.id,
          url: config.publicUrl,
          ...extra.summary,
          adminToken: token,
        });
        if (globals(self).json !== true)
          process.stderr.write('store the admin token now: it cannot be shown again\n');
      } finally {
        await p.close();
      }
    });
}
