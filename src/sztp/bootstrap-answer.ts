/**
 * Building the answer to get-bootstrapping-data from a device's record: the RFC 9646 LDevID step, then the
 * conveyed information signed by the owner's key with owner certificate and voucher (or unsigned when that is
 * not possible and allowed), then optionally encrypted to the IDevID (sign, then encrypt).
 */
import type { Clock } from '../core/clock.ts';
import type { KeyStore } from '../keys/types.ts';
import type { Device } from '../registry/types.ts';
import type { SztpOnboardingTable, SztpOwnersTable } from '../store/tables/sztp.ts';
import { conveyedContentType, unsignedConveyed } from './cms/content.ts';
import { encryptCms } from './cms/enveloped.ts';
import { degenerateCms, keyStoreSigner, signCms } from './cms/signed-data.ts';
import { parseConveyedJson, serializeConveyedInformation } from './conveyed-info.ts';
import type { BootstrapCaller } from './device-auth.ts';
import { chainOf } from './device-records.ts';
import { addLdevid } from './ldevid.ts';
import { dataMissing, RestconfFailure } from './restconf-errors.ts';
import { OID, type Encoding, type GetBootstrappingDataInput } from './types.ts';

/** Issues an LDevID from a device's PKCS#10 CSR (wired to the PKI's operational CA); returns the chain, leaf first. */
export type LdevidIssuer = (device: Device, csrDer: Uint8Array) => Promise<readonly Uint8Array[]>;

/**
 * RFC 9646: for an `ldevid` onboarding record, asks a CSR-capable device for a CSR (missing-attribute with
 * csr-request) and, once it sends one, adds the issued LDevID to the configuration (a per-device document).
 * Notes the outcome in `details`. Throws (RESTCONF) ERR_SZTP_CSR_REQUIRED, ERR_SZTP_CSR_UNSUPPORTED.
 */
export async function ldevidStep(
  rec: SztpOnboardingTable,
  device: Device,
  input: GetBootstrappingDataInput,
  issueLdevid: LdevidIssuer | undefined,
  details: Record<string, unknown>,
): Promise<{ document: string; perDevice: boolean }> {
  if (rec.kind !== 'onboarding' || rec.ldevid !== 1 || issueLdevid === undefined)
    return { document: rec.document, perDevice: false };
  if (input.csr !== undefined) {
    if (input.csr.format !== 'p10-csr') {
      throw new RestconfFailure('ERR_SZTP_CSR_UNSUPPORTED', 400, {
        type: 'application',
        tag: 'invalid-value',
        message: 'only p10-csr is supported',
      });
    }
    const document = addLdevid(rec.document, await issueLdevid(device, input.csr.value));
    details['ldevid'] = 'issued';
    return { document, perDevice: true };
  }
  if (input.csrSupport?.supportedFormats.includes('p10-csr') === true) {
    const alg = input.csrSupport.supportedAlgorithms?.[0];
    throw new RestconfFailure('ERR_SZTP_CSR_REQUIRED', 400, {
      type: 'application',
      tag: 'missing-attribute',
      message: 'a certificate signing request is required',
      csrRequest: {
        selectedFormat: 'p10-csr',
        ...(alg !== undefined ? { selectedAlgorithm: alg } : {}),
      },
    });
  }
  details['ldevid'] = 'device cannot make a CSR';
  return { document: rec.document, perDevice: false };
}

/** The three artifacts of an answer. */
export interface Artifacts {
  readonly conveyed: Uint8Array;
  readonly ownerCertificate?: Uint8Array;
  readonly voucher?: Uint8Array;
}

/**
 * Signs (when the owner's key is here and a voucher exists) and optionally encrypts the conveyed information.
 * Signed artifacts that do not depend on the device are cached in `cache`. Throws (RESTCONF data-missing)
 * ERR_SZTP_DATA_MISSING when signed data is preferred but cannot be made, or encryption lacks the IDevID.
 */
export async function conveyedArtifacts(
  deps: { keys: KeyStore; clock: Clock },
  cache: Map<string, Uint8Array>,
  a: {
    caller: BootstrapCaller;
    owner: SztpOwnersTable;
    rec: SztpOnboardingTable;
    document: string;
    perDevice: boolean;
    signedDataPreferred: boolean;
    voucher: Uint8Array | undefined;
  },
): Promise<Artifacts> {
  const { owner, rec } = a;
  const encoding = rec.encoding as Encoding;
  const bytes = (): Uint8Array => serializeConveyedInformation(parseConveyedJson(a.document), encoding);
  let conveyed: Uint8Array;
  let ownerCertificate: Uint8Array | undefined;
  if (owner.key_id !== null && a.voucher !== undefined) {
    const chain = chainOf(owner.chain);
    const skey = `c:${rec.id}:${rec.updated_at}`;
    let signed = a.perDevice ? undefined : cache.get(skey);
    if (signed === undefined) {
      signed = await signCms(
        conveyedContentType(encoding),
        bytes(),
        keyStoreSigner(deps.keys, owner.key_id, chain[0] as Uint8Array, chain.slice(1, -1)),
        deps.clock.now(),
      );
      if (!a.perDevice) cache.set(skey, signed);
    }
    conveyed = signed;
    ownerCertificate = cache.get(`o:${owner.id}`) ?? degenerateCms(chain);
    cache.set(`o:${owner.id}`, ownerCertificate);
  } else {
    if (rec.kind === 'onboarding' && a.signedDataPreferred)
      throw dataMissing('signed data preferred but no voucher or owner key is available');
    conveyed = unsignedConveyed(bytes(), encoding);
  }
  if (rec.encrypt === 1) {
    const idevid = a.caller.idevid;
    if (idevid === undefined) throw dataMissing('encrypted data needs the IDevID (mutual TLS)');
    // Sign, then encrypt: the EnvelopedData carries the SignedData (or the bare conveyed information).
    conveyed =
      ownerCertificate !== undefined
        ? encryptCms(OID.signedData, stripContentInfo(conveyed), idevid.der)
        : encryptCms(conveyedContentType(encoding), bytes(), idevid.der);
  }
  return ownerCertificate !== undefined && a.voucher !== undefined
    ? { conveyed, ownerCertificate, voucher: a.voucher }
    : { conveyed };
}

/** The inner content of a ContentInfo (drops the outer SEQUENCE, OID and [0] headers). */
function stripContentInfo(ci: Uint8Array): Uint8Array {
  const header = (b: Uint8Array, i: number) => {
    const l = b[i + 1] ?? 0;
    return l < 0x80 ? i + 2 : i + 2 + (l & 0x7f);
  };
  let i = header(ci, 0);
  i += 2 + (ci[i + 1] ?? 0);
  i = header(ci, i);
  return ci.subarray(i);
}
