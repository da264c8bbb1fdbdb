import { join } from 'node:path';
import { StoreAuditLog } from '../audit/log.ts';
import { AuditService } from '../audit/service.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { ImprintConfig } from '../core/config.ts';
import { createLogger, type Logger } from '../core/logging.ts';
import { systemRandom } from '../core/random.ts';
import { loadKek } from '../keys/kek.ts';
import { openKeyStore } from '../keys/open.ts';
import { SoftwareKeyStore } from '../keys/software.ts';
import { RegistryService } from '../registry/service.ts';
import { TokenService } from '../registry/tokens.ts';
import { openStore, storeLocationFrom } from '../store/database.ts';
import type { Core } from './types.ts';

/** File name of the key-encryption key inside the data dir. */
export const KEK_FILE = 'kek';

/** One process's wiring of every service, shared by `imprint serve` and the CLI commands. */
export interface Platform extends Core {
  readonly config: ImprintConfig;
  readonly logger: Logger;
  readonly tokens: TokenService;
  readonly auditService: AuditService;
  /** The software key store; holds the TLS server key even when CA keys live in an HSM. */
  readonly softwareKeys: SoftwareKeyStore;
  close(): Promise<void>;
}

/** Opens the store (migrating it), the key stores and the services for a configured installation. */
export async function openPlatform(
  config: ImprintConfig,
  options: { clock?: Clock; logger?: Logger } = {},
): Promise<Platform> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = await openStore(storeLocationFrom(config.databaseUrl, config.dataDir));
  try {
    const kekFile = join(config.dataDir, KEK_FILE);
    const kek = loadKek(kekFile);
    const softwareKeys = new SoftwareKeyStore(store.db, kek, clock);
    kek.fill(0);
    const keys =
      config.keyStore.backend === 'software'
        ? softwareKeys
        : await openKeyStore({ ...config.keyStore }, store.db, clock);
    const audit = new StoreAuditLog(store.dialect, clock);
    const registry = new RegistryService(store, audit, clock);
    const tokens = new TokenService(store, audit, clock);
    const auditService = new AuditService({ store, keys, log: audit, clock });
    return {
      config,
      logger,
      store,
      keys,
      softwareKeys,
      audit,
      registry,
      tokens,
      auditService,
      clock,
      random: systemRandom,
      async close() {
        if (keys !== softwareKeys) await keys.close();
        await softwareKeys.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
