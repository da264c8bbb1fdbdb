/**
 * The bootstrap server's logic (RFC 8572 §7): authenticate the device by its IDevID chain (and optionally
 * HTTP Basic), pick the most specific onboarding or redirect record of its owner, sign it with the owner's
 * key, add the owner certificate and a voucher, optionally encrypt to the IDevID; log and audit every
 * request and progress report.
 */
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { toHex } from '../core/encoding.ts';
import type { KeyStore } from '../keys/types.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Device } from '../registry/types.ts';
import type { Store } from '../store/database.ts';
import type { SztpOnboardingTable, SztpOwnersTable } from '../store/tables/sztp.ts';
import { SztpDeviceAuth, type BootstrapCaller } from './device-auth.ts';
import { GroupCommit } from './group-commit.ts';
import { conveyedContentType, unsignedConveyed } from './cms/content.ts';
import { encryptCms } from './cms/enveloped.ts';
import { degenerateCms, keyStoreSigner, signCms } from './cms/signed-data.ts';
import { parseConveyedJson, serializeConveyedInformation } from './conveyed-info.ts';
import { RestconfFailure } from './restconf-errors.ts';
import { addLdevid } from './ldevid.ts';
import {
  OID,
  type Encoding,
  type GetBootstrappingDataInput,
  type GetBootstrappingDataOutput,
  type ReportProgressInput,
} from './types.ts';
import { signVoucher } from './voucher.ts';

/** Called after a progress report commits (webhook delivery lives outside the transaction). */
export type ProgressListener = (event: {
  ownerId: string | null;
  deviceId: string;
  serial: string;
  progressType: string;
  message?: string;
  urls: string[];
}) => void;

/** Issues an LDevID from a device's PKCS#10 CSR (wired to the PKI's operational CA); returns the chain, leaf first. */
export type LdevidIssuer = (device: Device, csrDer: Uint8Array) => Promise<readonly Uint8Array[]>;

const missing = (message: string) =>
  new RestconfFailure('ERR_SZTP_DATA_MISSING', 409, { type: 'application', tag: 'data-missing', message });

let seq = 0;
/** Log ids sort in insertion order within a process (time, then a counter). */
function logId(now: Date): string {
  seq = (seq + 1) % 0xffffff;
  return `evt_${now.getTime().toString(16).padStart(12, '0')}${seq.toString(16).padStart(6, '0')}${toHex(new Uint8Array(createHash('sha1').update(`${Math.random()}`).digest().subarray(0, 4)))}`;
}

const chainOf = (json: string): Uint8Array[] =>
  (JSON.parse(json) as string[]).map((b) => new Uint8Array(Buffer.from(b, 'base64')));

/** The authenticated device of a request (defined with the authentication). */
export type { BootstrapCaller } from './device-auth.ts';

/** The bootstrap server. Stateless apart from small caches of CAs and signed artifacts. */
export class SztpBootstrapService {
  readonly #store: Store;
  readonly #keys: KeyStore;
  readonly #audit: AuditLog;
  readonly #registry: RegistryService;
  readonly #clock: Clock;
  readonly #listener: ProgressListener | undefined;
  readonly #issueLdevid: LdevidIssuer | undefined;
  readonly #signed = new Map<string, Uint8Array>();
  readonly #auth: SztpDeviceAuth;
  readonly #commits: GroupCommit;

  constructor(deps: {
    store: Store;
    keys: KeyStore;
    audit: AuditLog;
    registry: RegistryService;
    clock: Clock;
    onProgress?: ProgressListener;
    issueLdevid?: LdevidIssuer;
  }) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#audit = deps.audit;
    this.#registry = deps.registry;
    this.#clock = deps.clock;
    this.#listener = deps.onProgress;
    this.#auth = new SztpDeviceAuth(deps);
    this.#commits = new GroupCommit(deps.store);
    this.#issueLdevid = deps.issueLdevid;
  }

  /**
   * Authenticates a device by its TLS client chain and/or HTTP Basic credentials (see SztpDeviceAuth).
   * Throws ERR_SZTP_ACCESS_DENIED.
   */
  authenticate(
    chain: readonly Uint8Array[],
    basic?: { serial: string; secret: string },
  ): Promise<BootstrapCaller> {
    return this.#auth.authenticate(chain, basic);
  }

  async #record(device: Device, ownerId: string): Promise<SztpOnboardingTable | undefined> {
    const rows = await this.#store.db
      .selectFrom('sztp_onboarding')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where((eb) =>
        eb.or([
          eb.and([eb('scope', '=', 'device'), eb('scope_id', '=', device.id)]),
          eb.and([eb('scope', '=', 'model'), eb('scope_id', '=', device.modelId)]),
          eb.and([eb('scope', '=', 'owner'), eb('scope_id', '=', ownerId)]),
        ]),
      )
      .execute();
    for (const scope of ['device', 'model', 'owner']) {
      const r = rows.find((x) => x.scope === scope);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  async #voucher(
    device: Device,
    owner: SztpOwnersTable,
    nonce: Uint8Array | undefined,
  ): Promise<Uint8Array | undefined> {
    const now = this.#clock.now();
    const masa = await this.#store.db
      .selectFrom('sztp_masa')
      .selectAll()
      .where('tenant_id', '=', device.manufacturerId)
      .executeTakeFirst();
    if (masa !== undefined) {
      const ckey = `v:${device.id}:${owner.id}:${masa.key_id}`;
      const cached = nonce === undefined ? this.#signed.get(ckey) : undefined;
      if (cached !== undefined) return cached;
      const chain = chainOf(masa.chain);
      const cms = await signVoucher(
        {
          createdOn: now.toISOString(),
          ...(nonce === undefined
            ? { expiresOn: new Date(now.getTime() + masa.voucher_validity_days * 86400_000).toISOString() }
            : { nonce }),
          assertion: 'verified',
          serialNumber: device.serial,
          pinnedDomainCert: new Uint8Array(owner.pinned_domain_cert),
          domainCertRevocationChecks: false,
        },
        keyStoreSigner(this.#keys, masa.key_id, chain[0] as Uint8Array, chain.slice(1)),
        now,
      );
      if (nonce === undefined) this.#signed.set(ckey, cms);
      return cms;
    }
    const imported = await this.#store.db
      .selectFrom('sztp_vouchers')
      .select('cms')
      .where('device_id', '=', device.id)
      .where('owner_id', '=', owner.id)
      .where('expires_at', '>', now.toISOString())
      .orderBy('expires_at', 'desc')
      .executeTakeFirst();
    return imported === undefined ? undefined : new Uint8Array(imported.cms);
  }

  /** Issues a nonceless voucher for a bound device (manufacturer side, for export to the owner's server). Throws ERR_SZTP_DATA_MISSING. */
  async issueVoucher(actor: string, deviceId: string): Promise<{ cms: Uint8Array; expiresAt: string }> {
    const device = await this.#registry.getDevice(deviceId);
    const owner = await this.#ownerOf(device);
    if (owner === undefined) throw missing('device is not bound to an owner');
    const cms = await this.#voucher(device, owner, undefined);
    const masa = await this.#store.db
      .selectFrom('sztp_masa')
      .select('voucher_validity_days')
      .where('tenant_id', '=', device.manufacturerId)
      .executeTakeFirst();
    if (cms === undefined || masa === undefined) throw missing('no MASA key for this manufacturer');
    const expiresAt = new Date(
      this.#clock.now().getTime() + masa.voucher_validity_days * 86400_000,
    ).toISOString();
    await this.#store.transaction((tx) =>
      this.#audit.append(tx, {
        actor,
        action: 'sztp.voucher.issued',
        subject: device.id,
        tenantId: device.manufacturerId,
        details: { ownerId: owner.id, expiresAt },
      }),
    );
    return { cms, expiresAt };
  }

  async #ownerOf(device: Device): Promise<SztpOwnersTable | undefined> {
    return this.#store.db
      .selectFrom('sztp_bindings')
      .innerJoin('sztp_owners', 'sztp_owners.id', 'sztp_bindings.owner_id')
      .selectAll('sztp_owners')
      .where('sztp_bindings.device_id', '=', device.id)
      .executeTakeFirst();
  }

  /**
   * Answers get-bootstrapping-data. Throws ERR_SZTP_DATA_MISSING (RESTCONF data-missing) when the device has no
   * owner or record, or when signed data is preferred but cannot be produced.
   */
  async getBootstrappingData(
    caller: BootstrapCaller,
    input: GetBootstrappingDataInput,
  ): Promise<GetBootstrappingDataOutput> {
    const { device } = caller;
    const owner = await this.#ownerOf(device);
    const rec = owner === undefined ? undefined : await this.#record(device, owner.id);
    const details: Record<string, unknown> = {
      hwModel: input.hwModel ?? null,
      osName: input.osName ?? null,
      osVersion: input.osVersion ?? null,
      signedDataPreferred: input.signedDataPreferred,
      nonceful: input.nonce !== undefined,
    };
    try {
      if (owner === undefined || rec === undefined) throw missing('no bootstrapping data for this device');
      const encoding = rec.encoding as Encoding;
      const kind = rec.kind as 'onboarding' | 'redirect';
      let document = rec.document;
      const bytes = (): Uint8Array => serializeConveyedInformation(parseConveyedJson(document), encoding);
      let perDevice = false;
      if (kind === 'onboarding' && rec.ldevid === 1 && this.#issueLdevid !== undefined) {
        if (input.csr !== undefined) {
          if (input.csr.format !== 'p10-csr') {
            throw new RestconfFailure('ERR_SZTP_CSR_UNSUPPORTED', 400, {
              type: 'application',
              tag: 'invalid-value',
              message: 'only p10-csr is supported',
            });
          }
          document = addLdevid(rec.document, await this.#issueLdevid(device, input.csr.value));
          perDevice = true;
          details['ldevid'] = 'issued';
        } else if (input.csrSupport?.supportedFormats.includes('p10-csr') === true) {
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
        } else details['ldevid'] = 'device cannot make a CSR';
      }
      let conveyed: Uint8Array;
      let ownerCertificate: Uint8Array | undefined;
      let voucher: Uint8Array | undefined;
      const canSign = owner.key_id !== null;
      const mustSign = kind === 'onboarding' && input.signedDataPreferred;
      const voucherBytes = canSign ? await this.#voucher(device, owner, input.nonce) : undefined;
      if (canSign && voucherBytes !== undefined) {
        const chain = chainOf(owner.chain);
        const skey = `c:${rec.id}:${rec.updated_at}`;
        let signed = perDevice ? undefined : this.#signed.get(skey);
        if (signed === undefined) {
          signed = await signCms(
            conveyedContentType(encoding),
            bytes(),
            keyStoreSigner(this.#keys, owner.key_id as string, chain[0] as Uint8Array, chain.slice(1, -1)),
            this.#clock.now(),
          );
          if (!perDevice) this.#signed.set(skey, signed);
        }
        conveyed = signed;
        ownerCertificate = this.#signed.get(`o:${owner.id}`) ?? degenerateCms(chain);
        this.#signed.set(`o:${owner.id}`, ownerCertificate);
        voucher = voucherBytes;
      } else {
        if (mustSign) throw missing('signed data preferred but no voucher or owner key is available');
        conveyed = unsignedConveyed(bytes(), encoding);
      }
      if (rec.encrypt === 1) {
        if (caller.idevid === undefined) throw missing('encrypted data needs the IDevID (mutual TLS)');
        // Sign, then encrypt: the EnvelopedData carries the SignedData (or the bare conveyed information).
        conveyed =
          ownerCertificate !== undefined
            ? encryptCms(OID.signedData, stripContentInfo(conveyed), caller.idevid.der)
            : encryptCms(conveyedContentType(encoding), bytes(), caller.idevid.der);
      }
      details['kind'] = kind;
      details['signed'] = ownerCertificate !== undefined;
      details['encrypted'] = rec.encrypt === 1;
      await this.#log(device, owner.id, 'request', null, null, details);
      return {
        reportingLevel: 'verbose',
        conveyedInformation: conveyed,
        ...(ownerCertificate !== undefined && voucher !== undefined
          ? { ownerCertificate, ownershipVoucher: voucher }
          : {}),
      };
    } catch (e) {
      if (e instanceof RestconfFailure)
        await this.#log(device, owner?.id ?? null, 'request', null, e.restconf.tag, details);
      throw e;
    }
  }

  async #log(
    device: Device,
    ownerId: string | null,
    kind: string,
    progressType: string | null,
    message: string | null,
    details: Record<string, unknown>,
  ): Promise<void> {
    const now = this.#clock.now();
    await this.#commits.run(async (tx) => {
      await tx
        .insertInto('sztp_log')
        .values({
          id: logId(now),
          device_id: device.id,
          owner_id: ownerId,
          kind,
          progress_type: progressType,
          message,
          details: JSON.stringify(details),
          created_at: now.toISOString(),
        })
        .execute();
      await this.#audit.append(tx, {
        actor: `device:${device.serial}`,
        action: kind === 'request' ? 'sztp.bootstrap.requested' : 'sztp.progress.reported',
        subject: device.id,
        tenantId: device.tenantId,
        details: {
          ...details,
          ...(progressType !== null ? { progressType } : {}),
          ...(message !== null ? { message } : {}),
        },
      });
      if (progressType === 'bootstrap-complete' && device.state !== 'onboarded') {
        await this.#registry.updateDevice(
          tx,
          { actor: `device:${device.serial}` },
          device.id,
          { state: 'onboarded' },
          'sztp.device.onboarded',
        );
      }
    });
  }

  /** Records a progress report (stored, audited, webhooks notified after commit). */
  async reportProgress(caller: BootstrapCaller, input: ReportProgressInput): Promise<void> {
    const owner = await this.#ownerOf(caller.device);
    const details = {
      sshHostKeys: input.sshHostKeys?.map((k) => k.algorithm) ?? [],
      trustAnchorCerts: input.trustAnchorCerts?.length ?? 0,
    };
    await this.#log(
      caller.device,
      owner?.id ?? null,
      'progress',
      input.progressType,
      input.message ?? null,
      details,
    );
    if (this.#listener !== undefined && owner !== undefined) {
      const hooks = await this.#store.db
        .selectFrom('sztp_webhooks')
        .select('url')
        .where('owner_id', '=', owner.id)
        .execute();
      this.#listener({
        ownerId: owner.id,
        deviceId: caller.device.id,
        serial: caller.device.serial,
        progressType: input.progressType,
        ...(input.message !== undefined ? { message: input.message } : {}),
        urls: hooks.map((h) => h.url),
      });
    }
  }
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
