import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ValidationError } from './errors.ts';

/** Which key store holds the platform's private keys. */
export type KeyStoreConfig =
  | { readonly backend: 'software' }
  | { readonly backend: 'pkcs11'; readonly module: string; readonly tokenLabel: string };

/** Settings of one Imprint installation, stored as `imprint.json` in the data dir (no secrets in it). */
export interface ImprintConfig {
  readonly dataDir: string;
  /** PostgreSQL URL; when absent the embedded SQLite file in the data dir is used. */
  readonly databaseUrl: string | undefined;
  readonly listen: { readonly host: string; readonly port: number };
  /** Base URL devices and relying parties use to reach this server (CRL, OCSP, TUF links). */
  readonly publicUrl: string;
  readonly keyStore: KeyStoreConfig;
  /** Requests per minute per client (token, certificate or address). */
  readonly rateLimitPerMinute: number;
  readonly logLevel: string;
}

/** File name of the configuration inside the data dir. */
export const CONFIG_FILE = 'imprint.json';

/** The data dir: --data-dir, then IMPRINT_DATA_DIR, then ./imprint-data. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.IMPRINT_DATA_DIR ?? 'imprint-data');
}

/** Defaults for a new installation in `dataDir`. */
export function defaultConfig(dataDir: string, env: NodeJS.ProcessEnv = process.env): ImprintConfig {
  const port = Number(env.IMPRINT_PORT ?? 8443);
  return {
    dataDir,
    databaseUrl: env.IMPRINT_DATABASE_URL,
    listen: { host: env.IMPRINT_HOST ?? '127.0.0.1', port },
    publicUrl: env.IMPRINT_PUBLIC_URL ?? `https://localhost:${port}`,
    keyStore: { backend: 'software' },
    rateLimitPerMinute: 6000,
    logLevel: env.IMPRINT_LOG_LEVEL ?? 'info',
  };
}

/** Reads imprint.json from the data dir; IMPRINT_DATABASE_URL overrides the stored URL. Throws ERR_NOT_INITIALISED, ERR_CONFIG_INVALID. */
export function loadConfig(dataDir: string, env: NodeJS.ProcessEnv = process.env): ImprintConfig {
  const file = join(dataDir, CONFIG_FILE);
  if (!existsSync(file)) {
    throw new ValidationError(
      'ERR_NOT_INITIALISED',
      `no Imprint installation in ${dataDir}: run imprint init`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new ValidationError('ERR_CONFIG_INVALID', `${file} is not valid JSON`);
  }
  const c = parsed as Partial<ImprintConfig>;
  if (typeof c.listen?.port !== 'number' || typeof c.publicUrl !== 'string' || c.keyStore === undefined) {
    throw new ValidationError('ERR_CONFIG_INVALID', `${file} is missing listen, publicUrl or keyStore`);
  }
  return {
    ...defaultConfig(dataDir, env),
    ...c,
    dataDir,
    databaseUrl: env.IMPRINT_DATABASE_URL ?? c.databaseUrl,
  };
}

/** Writes imprint.json (mode 0600; it holds no secrets but names where they are). */
export function saveConfig(config: ImprintConfig): void {
  const { dataDir, ...rest } = config;
  writeFileSync(join(dataDir, CONFIG_FILE), `${JSON.stringify(rest, null, 2)}\n`, { mode: 0o600 });
}
