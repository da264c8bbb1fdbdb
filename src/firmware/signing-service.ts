import { fromHex, toHex } from '../core/encoding.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError, hasCode } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { KeyAlgorithm } from '../keys/types.ts';
import { findCaByRole } from '../pki/ca-store.ts';
import type { Executor } from '../store/database.ts';
import type { FirmwareImagesTable } from '../store/tables/firmware.ts';
import { createHash } from 'node:crypto';
import { formatVersion } from './mcuboot/types.ts';
import { verifyImage } from './mcuboot/verify.ts';
import { parseVersion } from './mcuboot/version.ts';
import { draftImage, type ImageSpec } from './mcuboot/write.ts';
import { keyStoreSigner, type ImageSigner } from './signer.ts';
import type { FirmwareActor, FirmwareDeps, FirmwareImage, SignParams, SigningRequest } from './types.ts';

/** Largest firmware payload the service signs. */
export const MAX_FIRMWARE_SIZE = 32 * 1024 * 1024;

function uuid(hex: string | undefined, name: string): Uint8Array | undefined {
  if (hex === undefined) return undefined;
  const clean = hex.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(clean))
    throw new ValidationError('ERR_FIRMWARE_BAD_IMAGE_SPEC', `${name} must be a 16-byte UUID`);
  return fromHex(clean.toLowerCase());
}

/** Builds an ImageSpec from request parameters. Throws ERR_FIRMWARE_BAD_VERSION, ERR_FIRMWARE_BAD_IMAGE_SPEC, ERR_FIRMWARE_TOO_LARGE. */
export function specFrom(payload: Uint8Array, p: SignParams): ImageSpec {
  if (payload.length === 0 || payload.length > MAX_FIRMWARE_SIZE) {
    throw new ValidationError('ERR_FIRMWARE_TOO_LARGE', `firmware must be 1..${MAX_FIRMWARE_SIZE} bytes`);
  }
  const vid = uuid(p.vendorId, 'vendorId');
  const cid = uuid(p.classId, 'classId');
  return {
    payload,
    version: parseVersion(p.version),
    ...(p.headerSize === undefined ? {} : { headerSize: p.headerSize }),
    ...(p.loadAddr === undefined ? {} : { loadAddr: p.loadAddr }),
    ...(p.securityCounter === undefined ? {} : { securityCounter: p.securityCounter }),
    ...(vid === undefined ? {} : { vendorId: vid }),
    ...(cid === undefined ? {} : { classId: cid }),
    ...(p.publicKeyFormat === undefined ? {} : { publicKeyFormat: p.publicKeyFormat }),
  };
}

/**
 * Firmware signing: release keys live in the KeyStore and are registered per tenant with an
 * approval policy (k approvals by other release managers). Only the image digest reaches the key
 * store; every signature and approval is audited in the transaction that records it.
 */
export class SigningService {
  readonly #d: FirmwareDeps;

  constructor(deps: FirmwareDeps) {
    this.#d = deps;
  }

  /** Creates a release key in the KeyStore for the tenant. Throws ERR_FIRMWARE_KEY_UNSUPPORTED, ERR_KEY_LABEL_TAKEN. */
  async createKey(
    by: FirmwareActor,
    label: string,
    algorithm: KeyAlgorithm,
    approvalsRequired = 0,
  ): Promise<{ keyId: string; keyHash: string }> {
    if (algorithm === 'rsa-4096')
      throw new ValidationError('ERR_FIRMWARE_KEY_UNSUPPORTED', 'MCUboot has no RSA-4096 signature TLV');
    const info = await this.#d.keys.generate(label, algorithm);
    const signer = keyStoreSigner(this.#d.keys, info);
    await this.registerKey(by, info.id, approvalsRequired);
    return { keyId: info.id, keyHash: toHex(signer.publicKey.hash) };
  }

  /** Registers an existing KeyStore key as a release key. Throws ERR_FIRMWARE_KEY_UNSUPPORTED, ERR_FIRMWARE_KEY_EXISTS, ERR_FIRMWARE_BAD_POLICY. */
  async registerKey(by: FirmwareActor, keyId: string, approvalsRequired = 0): Promise<void> {
    if (!Number.isInteger(approvalsRequired) || approvalsRequired < 0 || approvalsRequired > 16) {
      throw new ValidationError('ERR_FIRMWARE_BAD_POLICY', 'approvals required must be 0..16');
    }
    const signer = keyStoreSigner(this.#d.keys, await this.#d.keys.get(keyId));
    await this.#d.store.transaction(async (tx) => {
      const existing = await tx
        .selectFrom('firmware_key_policies')
        .select('key_id')
        .where('key_id', '=', keyId)
        .executeTakeFirst();
      if (existing !== undefined)
        throw new ConflictError('ERR_FIRMWARE_KEY_EXISTS', 'key is already a release key');
      await tx
        .insertInto('firmware_key_policies')
        .values({
          key_id: keyId,
          tenant_id: by.tenantId,
          approvals_required: approvalsRequired,
          created_at: this.#now(),
        })
        .execute();
      await this.#d.audit.append(tx, {
        actor: by.actor,
        action: 'firmware.key_registered',
        subject: keyId,
        tenantId: by.tenantId,
        details: { keyHash: toHex(signer.publicKey.hash), type: signer.publicKey.type, approvalsRequired },
      });
    });
  }

  /**
   * Registers the tenant's code-signing CA key as a release key (once; later calls return it). The
   * factory burns SHA-256 of this key's SPKI into every device's OTP, which is MCUboot's KEYHASH for
   * EC keys, so images it signs boot on factory-provisioned devices. Throws ERR_CA_NOT_FOUND,
   * ERR_FIRMWARE_KEY_OFFLINE.
   */
  async adoptCodeSigningKey(by: FirmwareActor): Promise<{ keyId: string; keyHash: string }> {
    const ca = await findCaByRole(this.#d.store.db, by.tenantId, 'code-signing');
    if (ca.keyId === null)
      throw new ValidationError(
        'ERR_FIRMWARE_KEY_OFFLINE',
        'the code-signing CA key is not in the key store',
      );
    const keyHash = toHex(keyStoreSigner(this.#d.keys, await this.#d.keys.get(ca.keyId)).publicKey.hash);
    try {
      await this.registerKey(by, ca.keyId);
    } catch (e) {
      // Adopted earlier, or by a concurrent caller: both leave the key registered, which is the goal.
      if (!hasCode(e, 'ERR_FIRMWARE_KEY_EXISTS')) throw e;
    }
    return { keyId: ca.keyId, keyHash };
  }

  /**
   * Signs unless the same key already signed an image with the same MCUboot image hash (same payload
   * and header), and returns that image's file digest. Throws the requestSignature codes and
   * ERR_FIRMWARE_APPROVAL_PENDING when the key needs approvals.
   */
  async signOnce(by: FirmwareActor, keyId: string, payload: Uint8Array, params: SignParams): Promise<string> {
    const { signer } = await this.signer(by.tenantId, keyId);
    const imageHash = toHex(draftImage(specFrom(payload, params), signer.publicKey).digest);
    const existing = await this.#d.store.db
      .selectFrom('firmware_images')
      .select('digest')
      .where('tenant_id', '=', by.tenantId)
      .where('key_id', '=', keyId)
      .where('image_hash', '=', imageHash)
      .executeTakeFirst();
    if (existing !== undefined) return existing.digest;
    const req = await this.requestSignature(by, keyId, payload, params);
    if (req.imageDigest === null)
      throw new ConflictError('ERR_FIRMWARE_APPROVAL_PENDING', `signing request ${req.id} awaits approvals`);
    return req.imageDigest;
  }

  /** The tenant's release key as an image signer. Throws ERR_FIRMWARE_KEY_NOT_FOUND. */
  async signer(
    tenantId: string,
    keyId: string,
    db: Executor = this.#d.store.db,
  ): Promise<{ signer: ImageSigner; approvalsRequired: number }> {
    const policy = await db
      .selectFrom('firmware_key_policies')
      .selectAll()
      .where('key_id', '=', keyId)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (policy === undefined)
      throw new NotFoundError('ERR_FIRMWARE_KEY_NOT_FOUND', `no release key ${keyId}`);
    return {
      signer: keyStoreSigner(this.#d.keys, await this.#d.keys.get(keyId)),
      approvalsRequired: policy.approvals_required,
    };
  }

  /**
   * Asks for a signature: signs at once when the key needs no approvals, otherwise records a pending
   * request. Throws ERR_FIRMWARE_KEY_NOT_FOUND and the specFrom / draftImage codes.
   */
  async requestSignature(
    by: FirmwareActor,
    keyId: string,
    payload: Uint8Array,
    params: SignParams,
  ): Promise<SigningRequest> {
    const spec = specFrom(payload, params);
    const { signer, approvalsRequired } = await this.signer(by.tenantId, keyId);
    const draft = draftImage(spec, signer.publicKey);
    const id = newId('job');
    await this.#d.store.transaction(async (tx) => {
      await tx
        .insertInto('firmware_signing_requests')
        .values({
          id,
          tenant_id: by.tenantId,
          key_id: keyId,
          requested_by: by.actor,
          spec: JSON.stringify(params),
          payload,
          digest: toHex(draft.digest),
          approvals_required: approvalsRequired,
          state: 'pending',
          image_digest: null,
          created_at: this.#now(),
        })
        .execute();
      await this.#d.audit.append(tx, {
        actor: by.actor,
        action: 'firmware.sign_requested',
        subject: id,
        tenantId: by.tenantId,
        details: {
          keyId,
          digest: toHex(draft.digest),
          version: params.version,
          securityCounter: params.securityCounter ?? null,
        },
      });
    });
    if (approvalsRequired === 0) await this.#complete(by, id);
    return this.getRequest(by.tenantId, id);
  }

  /**
   * Records an approval by another release manager; the request is signed once enough approvals are in.
   * Throws ERR_FIRMWARE_REQUEST_NOT_FOUND, ERR_FIRMWARE_SELF_APPROVAL, ERR_FIRMWARE_ALREADY_APPROVED, ERR_FIRMWARE_ALREADY_SIGNED.
   */
  async approve(by: FirmwareActor, requestId: string): Promise<SigningRequest> {
    const ready = await this.#d.store.transaction(async (tx) => {
      const req = await this.#requestRow(tx, by.tenantId, requestId);
      if (req.state !== 'pending')
        throw new ConflictError('ERR_FIRMWARE_ALREADY_SIGNED', 'request is already signed');
      if (req.requested_by === by.actor)
        throw new ForbiddenError('ERR_FIRMWARE_SELF_APPROVAL', 'requesters cannot approve their own request');
      const dup = await tx
        .selectFrom('firmware_approvals')
        .select('approver')
        .where('request_id', '=', requestId)
        .where('approver', '=', by.actor)
        .executeTakeFirst();
      if (dup !== undefined)
        throw new ConflictError('ERR_FIRMWARE_ALREADY_APPROVED', 'already approved by this caller');
      await tx
        .insertInto('firmware_approvals')
        .values({ request_id: requestId, approver: by.actor, created_at: this.#now() })
        .execute();
      await this.#d.audit.append(tx, {
        actor: by.actor,
        action: 'firmware.sign_approved',
        subject: requestId,
        tenantId: by.tenantId,
        details: { digest: req.digest },
      });
      const n = await tx
        .selectFrom('firmware_approvals')
        .select('approver')
        .where('request_id', '=', requestId)
        .execute();
      return n.length >= req.approvals_required;
    });
    if (ready) await this.#complete(by, requestId);
    return this.getRequest(by.tenantId, requestId);
  }

  /** A signing request with its approvals. Throws ERR_FIRMWARE_REQUEST_NOT_FOUND. */
  async getRequest(tenantId: string, id: string): Promise<SigningRequest> {
    const r = await this.#requestRow(this.#d.store.db, tenantId, id);
    const approvals = await this.#d.store.db
      .selectFrom('firmware_approvals')
      .select('approver')
      .where('request_id', '=', id)
      .orderBy('created_at')
      .execute();
    return {
      id: r.id,
      keyId: r.key_id,
      requestedBy: r.requested_by,
      digest: r.digest,
      approvalsRequired: r.approvals_required,
      approvals: approvals.map((a) => a.approver),
      state: r.state === 'signed' ? 'signed' : 'pending',
      imageDigest: r.image_digest,
    };
  }

  /** The signed image bytes. Throws ERR_FIRMWARE_IMAGE_NOT_FOUND. */
  async imageBytes(tenantId: string, digest: string, db: Executor = this.#d.store.db): Promise<Uint8Array> {
    return new Uint8Array((await this.#imageRow(db, tenantId, digest)).image);
  }

  /** A signed image's record. Throws ERR_FIRMWARE_IMAGE_NOT_FOUND. */
  async getImage(tenantId: string, digest: string, db: Executor = this.#d.store.db): Promise<FirmwareImage> {
    return toImage(await this.#imageRow(db, tenantId, digest));
  }

  async #imageRow(db: Executor, tenantId: string, digest: string): Promise<FirmwareImagesTable> {
    const r = await db
      .selectFrom('firmware_images')
      .selectAll()
      .where('digest', '=', digest)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (r === undefined) throw new NotFoundError('ERR_FIRMWARE_IMAGE_NOT_FOUND', `no image ${digest}`);
    return r;
  }

  async #requestRow(db: Executor, tenantId: string, id: string) {
    const r = await db
      .selectFrom('firmware_signing_requests')
      .selectAll()
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (r === undefined)
      throw new NotFoundError('ERR_FIRMWARE_REQUEST_NOT_FOUND', `no signing request ${id}`);
    return r;
  }

  async #complete(by: FirmwareActor, id: string): Promise<void> {
    const req = await this.#requestRow(this.#d.store.db, by.tenantId, id);
    const params = JSON.parse(req.spec) as SignParams;
    const { signer } = await this.signer(by.tenantId, req.key_id);
    const draft = draftImage(specFrom(new Uint8Array(req.payload), params), signer.publicKey);
    if (toHex(draft.digest) !== req.digest)
      throw new ConflictError('ERR_FIRMWARE_DIGEST_CHANGED', 'request no longer reproduces its digest');
    // Only the digest goes to the key store; the finished image is checked before it is recorded.
    const image = draft.finish(await signer.signDigest(draft.digest));
    const verified = verifyImage(image, { keys: [signer.publicKey] });
    const facts = verified.facts;
    const fileDigest = createHash('sha256').update(image).digest('hex');
    await this.#d.store.transaction(async (tx) => {
      const claimed = await tx
        .updateTable('firmware_signing_requests')
        .set({ state: 'signed', image_digest: fileDigest })
        .where('id', '=', id)
        .where('state', '=', 'pending')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1)
        throw new ConflictError('ERR_FIRMWARE_ALREADY_SIGNED', 'request is already signed');
      const exists = await tx
        .selectFrom('firmware_images')
        .select('digest')
        .where('digest', '=', fileDigest)
        .executeTakeFirst();
      if (exists === undefined) {
        await tx
          .insertInto('firmware_images')
          .values({
            digest: fileDigest,
            image_hash: req.digest,
            tenant_id: by.tenantId,
            key_id: req.key_id,
            version: formatVersion(facts.version),
            security_counter: facts.securityCounter ?? 0,
            size: image.length,
            image,
            signed_by: req.requested_by,
            created_at: this.#now(),
          })
          .execute();
      }
      await this.#d.audit.append(tx, {
        actor: by.actor,
        action: 'firmware.signed',
        subject: fileDigest,
        tenantId: by.tenantId,
        details: {
          requestedBy: req.requested_by,
          approvers: (
            await tx
              .selectFrom('firmware_approvals')
              .select('approver')
              .where('request_id', '=', id)
              .execute()
          ).map((a) => a.approver),
          requestId: id,
          keyId: req.key_id,
          keyHash: toHex(signer.publicKey.hash),
          imageHash: req.digest,
          fileDigest,
          version: formatVersion(facts.version),
          securityCounter: facts.securityCounter ?? null,
        },
      });
    });
  }

  #now(): string {
    return this.#d.clock.now().toISOString();
  }
}

function toImage(r: FirmwareImagesTable): FirmwareImage {
  return {
    digest: r.digest,
    imageHash: r.image_hash,
    tenantId: r.tenant_id,
    keyId: r.key_id,
    version: r.version,
    securityCounter: r.security_counter,
    size: r.size,
    signedBy: r.signed_by,
    createdAt: r.created_at,
  };
}
