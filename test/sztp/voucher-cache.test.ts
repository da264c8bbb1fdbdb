import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { makeWorld, type World } from './world.ts';

const worlds: World[] = [];
after(async () => {
  for (const w of worlds) await w.close();
});

test('a cached nonceless voucher is re-signed once half its validity has passed; exports carry its own expiry', async () => {
  const w = await makeWorld({ serial: 'SN-VCACHE' });
  worlds.push(w);
  await w.admin.bind(
    { actor: 'test' },
    { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: ['SN-VCACHE'] },
  );
  const first = await w.bootstrap.issueVoucher('test', w.device.id);
  const again = await w.bootstrap.issueVoucher('test', w.device.id);
  assert.deepEqual(again.cms, first.cms, 'served from the cache');
  assert.equal(again.expiresAt, first.expiresAt, "the export carries the cached voucher's own expiry");
  const validityMs = Date.parse(first.expiresAt) - w.core.clock.now().getTime();
  assert.ok(validityMs > 86400_000);
  w.core.clock.advance(validityMs / 2 + 1000);
  const later = await w.bootstrap.issueVoucher('test', w.device.id);
  assert.notDeepEqual(later.cms, first.cms, 'a fresh voucher');
  assert.ok(Date.parse(later.expiresAt) > Date.parse(first.expiresAt));
});
