import { systemRandom } from '../../../src/core/random.ts';
import { pkiContext } from '../../../src/pki/context.ts';
import { defaultHierarchy, initHierarchy } from '../../../src/pki/hierarchy.ts';
import { codeSigningFirmwareSource, demoFirmwareImage } from '../../../src/factory/firmware.ts';
import { pkiIdentityIssuer } from '../../../src/factory/issuer.ts';
import { FactoryService } from '../../../src/factory/service.ts';
import { localFactoryApi } from '../../../src/factory/local-api.ts';
import type { Batch, FactoryApi, StationCaller } from '../../../src/factory/types.ts';
import type { CaRecord } from '../../../src/pki/types.ts';
import { createTestCore, seedManufacturer, type TestCore } from '../../helpers/core.ts';
import type { StoreLocation } from '../../../src/store/database.ts';

/** A manufacturer with a CA hierarchy, a station, an open batch and the factory service. */
export interface FactoryFixture {
  readonly core: TestCore;
  readonly service: FactoryService;
  readonly station: StationCaller;
  readonly batch: Batch;
  readonly api: FactoryApi;
  readonly cas: CaRecord[];
  readonly tenantId: string;
  readonly modelName: string;
}

/** Builds the fixture on a fresh test core. */
export async function factoryFixture(
  options: { quantity?: number; firmwareSize?: number; location?: StoreLocation } = {},
): Promise<FactoryFixture> {
  const core = await createTestCore(options.location === undefined ? {} : { location: options.location });
  const { tenant, model } = await seedManufacturer(core);
  const ctx = pkiContext({ ...core, random: systemRandom }, { urls: { baseUrl: 'https://imprint.test' } });
  const { cas } = await initHierarchy(ctx, { actor: 'test' }, tenant.id, defaultHierarchy('Acme'));
  const service = new FactoryService({
    ...core,
    random: systemRandom,
    issuer: pkiIdentityIssuer(ctx),
    firmware: codeSigningFirmwareSource(core, demoFirmwareImage(options.firmwareSize ?? 4096), '1.0.0'),
  });
  const st = await service.batches.createStation({ actor: 'test' }, tenant.id, 'line-1');
  const now = core.clock.now().getTime();
  const batch = await service.batches.createBatch(
    { actor: 'test' },
    {
      tenantId: tenant.id,
      modelId: model.id,
      quantity: options.quantity ?? 10,
      stationId: st.id,
      notBefore: new Date(now - 3600_000).toISOString(),
      notAfter: new Date(now + 3600_000).toISOString(),
    },
  );
  const station: StationCaller = { stationId: st.id, tenantId: tenant.id, actor: `station:${st.id}` };
  return {
    core,
    service,
    station,
    batch,
    api: localFactoryApi(service, station),
    cas,
    tenantId: tenant.id,
    modelName: model.name,
  };
}
