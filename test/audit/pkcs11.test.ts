import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { exportAudit } from '../../src/audit/export.ts';
import { AuditService } from '../../src/audit/service.ts';
import { verifyExport } from '../../src/audit/verify.ts';
import { toPem } from '../../src/core/encoding.ts';
import { Pkcs11KeyStore } from '../../src/keys/pkcs11.ts';
import { createTestCore } from '../helpers/core.ts';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm.ts';

// One token for the file: SoftHSM reads its config once per module initialisation.
const token: SoftHsmToken = createSoftHsmToken();
after(() => token.cleanup());

describe('signed tree heads with the audit key in a PKCS#11 token (SoftHSM)', () => {
  for (const algorithm of ['ed25519', 'ecdsa-p256'] as const) {
    it(`signs and verifies checkpoints with a non-extractable ${algorithm} key`, async () => {
      const core = await createTestCore({
        keys: (store, clock) =>
          new Pkcs11KeyStore({
            module: token.module,
            tokenLabel: token.tokenLabel,
            pin: token.pin,
            db: store.db,
            clock,
          }),
      });
      try {
        const audit = new AuditService({
          store: core.store,
          keys: core.keys,
          log: core.audit,
          clock: core.clock,
          algorithm,
        });
        for (let b = 0; b < 3; b++) {
          await core.store.transaction((tx) =>
            core.audit.appendMany(
              tx,
              Array.from({ length: 7 }, (_, i) => ({
                actor: 'system',
                action: 'hsm.test',
                subject: `s${b}-${i}`,
              })),
            ),
          );
          assert.ok((await audit.signTreeHead()) !== undefined);
        }
        const key = await audit.key();
        assert.equal(key.backend, 'pkcs11');
        const report = verifyExport(
          await exportAudit(core.store.db, core.keys),
          toPem('PUBLIC KEY', key.publicKeyDer),
          {
            entrySeq: 10,
            fromSize: 7,
            toSize: 21,
          },
        );
        assert.deepEqual(report.problems, []);
        assert.equal(report.verifiedTreeHeads, 3);
        assert.equal(report.inclusion?.verified, true);
        assert.equal(report.consistency?.verified, true);
      } finally {
        await core.close();
      }
    });
  }
});
