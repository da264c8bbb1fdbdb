/**
 * A station process for the crash test: opens the test store directly, runs a line against the
 * simulated fixture on a TCP port, and prints one line per device (the parent kills it mid-way).
 * argv: dbPath stationId tenantId batchId port count parallel
 */
import { StoreAuditLog } from '../../../src/audit/log.ts';
import { systemClock } from '../../../src/core/clock.ts';
import { systemRandom } from '../../../src/core/random.ts';
import { SoftwareKeyStore } from '../../../src/keys/software.ts';
import { RegistryService } from '../../../src/registry/service.ts';
import { openStore } from '../../../src/store/database.ts';
import { pkiContext } from '../../../src/pki/context.ts';
import { FactoryService } from '../../../src/factory/service.ts';
import { pkiIdentityIssuer } from '../../../src/factory/issuer.ts';
import { codeSigningFirmwareSource, demoFirmwareImage } from '../../../src/factory/firmware.ts';
import { localFactoryApi } from '../../../src/factory/local-api.ts';
import { runLine } from '../../../src/factory/line.ts';
import { connectTcp } from '../../../src/factory/link/transport.ts';

const [dbPath, stationId, tenantId, batchId, port, count, parallel] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const store = await openStore({ kind: 'sqlite', path: dbPath });
const keys = new SoftwareKeyStore(store.db, new Uint8Array(32).fill(0x42), systemClock);
const audit = new StoreAuditLog(store.dialect, systemClock);
const registry = new RegistryService(store, audit, systemClock);
const core = { store, keys, audit, registry, clock: systemClock, random: systemRandom };
const ctx = pkiContext(core, { urls: { baseUrl: 'https://imprint.test' } });
const service = new FactoryService({
  ...core,
  issuer: pkiIdentityIssuer(ctx),
  firmware: codeSigningFirmwareSource(core, demoFirmwareImage(4096), '1.0.0'),
});
const api = localFactoryApi(service, { stationId, tenantId, actor: `station:${stationId}` });
const summary = await runLine({
  api,
  batchId,
  count: Number(count),
  parallel: Number(parallel),
  connect: () => connectTcp('127.0.0.1', Number(port)),
  onDevice: (r) =>
    process.stdout.write(
      'serial' in r ? `ok ${r.serial} ${r.outcome}\n` : `fail ${r.device} ${r.step} ${r.code}\n`,
    ),
});
process.stdout.write(`summary ${JSON.stringify(summary)}\n`);
await keys.close();
await store.close();
