import type { Clock } from '../core/clock.ts';
import { ImprintError } from '../core/errors.ts';
import type { Db } from '../store/database.ts';
import { loadKek } from './kek.ts';
import { Pkcs11KeyStore } from './pkcs11.ts';
import { SoftwareKeyStore } from './software.ts';
import type { KeyStore } from './types.ts';

/** Environment variable carrying the PKCS#11 user PIN (never written to config files). */
export const PKCS11_PIN_ENV = 'IMPRINT_PKCS11_PIN';

/** Which key store to open: the software store with its KEK file, or a PKCS#11 token. */
export type KeyStoreOpenConfig =
  | { readonly backend: 'software'; readonly kekFile: string }
  | { readonly backend: 'pkcs11'; readonly module: string; readonly tokenLabel: string };

/**
 * Opens the configured key store. The software KEK comes from IMPRINT_KEK or the KEK file; the PKCS#11
 * PIN from IMPRINT_PKCS11_PIN. Throws ERR_KEK_MISSING, ERR_KEK_FILE_MODE, ERR_KEK_MALFORMED,
 * ERR_PKCS11_PIN_MISSING, ERR_PKCS11_MODULE_LOAD_FAILED, ERR_PKCS11_TOKEN_NOT_FOUND, ERR_PKCS11_LOGIN_FAILED.
 */
export function openKeyStore(
  config: KeyStoreOpenConfig,
  db: Db,
  clock: Clock,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KeyStore> {
  try {
    if (config.backend === 'software') {
      const kek = loadKek(config.kekFile, env);
      const store = new SoftwareKeyStore(db, kek, clock);
      kek.fill(0);
      return Promise.resolve(store);
    }
    const pin = env[PKCS11_PIN_ENV];
    if (pin === undefined || pin === '') {
      throw new ImprintError('ERR_PKCS11_PIN_MISSING', 500, `set ${PKCS11_PIN_ENV} to the token's user PIN`);
    }
    return Promise.resolve(
      new Pkcs11KeyStore({ module: config.module, tokenLabel: config.tokenLabel, pin, db, clock }),
    );
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}
