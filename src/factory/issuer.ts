import { caChain, getCa } from '../pki/ca-store.ts';
import type { PkiContext } from '../pki/context.ts';
import { issueFromCsr } from '../pki/issue.ts';
import { revokeCertificate } from '../pki/revoke.ts';
import { hasCode } from '../core/errors.ts';
import type { Executor } from '../store/database.ts';

/** An issued identity certificate and its chain. */
export interface IssuedIdentity {
  readonly certificateId: string;
  readonly der: Uint8Array;
  /** Issuing CA and its parents, DER, nearest first. */
  readonly chain: Uint8Array[];
}

/** The PKI as the factory needs it: issue IDevIDs, find them again, revoke them. */
export interface IdentityIssuer {
  /** Issues an IDevID for a CSR of a registered device. Throws the PKI's ERR_CSR_* / ERR_CA_* codes. */
  issue(
    by: { actor: string },
    req: { tenantId: string; csr: Uint8Array; model: string },
  ): Promise<IssuedIdentity>;
  /** The good IDevIDs of a device (any key), newest first. */
  goodIdentities(db: Executor, deviceId: string): Promise<(IssuedIdentity & { spkiSha256: string })[]>;
  /** Revokes a certificate (already-revoked is not an error). */
  revoke(
    by: { actor: string },
    req: { tenantId: string; certificateId: string; reason: 'cessationOfOperation' | 'superseded' },
  ): Promise<void>;
}

/** The IdentityIssuer over the PKI module (src/pki): `idevid` profile, manufacturer CA. */
export function pkiIdentityIssuer(ctx: PkiContext): IdentityIssuer {
  const chainCache = new Map<string, Uint8Array[]>();
  const chainOf = async (db: Executor, caId: string | null): Promise<Uint8Array[]> => {
    if (caId === null) return [];
    let c = chainCache.get(caId);
    if (c === undefined) {
      c = (await caChain(db, await getCa(db, caId))).map((r) => r.certificate);
      chainCache.set(caId, c);
    }
    return c;
  };
  return {
    async issue(by, req) {
      const r = await issueFromCsr(ctx, by, {
        tenantId: req.tenantId,
        profile: 'idevid',
        csr: req.csr,
        model: req.model,
      });
      return {
        certificateId: r.certificate.id,
        der: r.certificate.der,
        chain: await chainOf(ctx.store.db, r.certificate.caId),
      };
    },
    async goodIdentities(db, deviceId) {
      const rows = await db
        .selectFrom('certificates')
        .select(['id', 'der', 'ca_id', 'spki_sha256'])
        .where('device_id', '=', deviceId)
        .where('profile', '=', 'idevid')
        .where('status', '=', 'good')
        .orderBy('created_at', 'desc')
        .execute();
      const out: (IssuedIdentity & { spkiSha256: string })[] = [];
      for (const r of rows) {
        out.push({
          certificateId: r.id,
          der: new Uint8Array(r.der),
          chain: await chainOf(db, r.ca_id),
          spkiSha256: r.spki_sha256,
        });
      }
      return out;
    },
    async revoke(by, req) {
      try {
        await revokeCertificate(ctx, by, {
          tenantId: req.tenantId,
          certificateId: req.certificateId,
          reason: req.reason,
        });
      } catch (e) {
        if (!hasCode(e, 'ERR_CERT_ALREADY_REVOKED')) throw e;
      }
    },
  };
}
