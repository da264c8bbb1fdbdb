/** The per-device secrets the server generates and seals to a device's transport key (HPKE). */
import { verify as nodeVerify, type KeyObject, type PublicKeyInput } from 'node:crypto';
import type { AuditEvent } from '../audit/types.ts';
import { ForbiddenError } from '../core/errors.ts';
import type { Random } from '../core/random.ts';
import { SECRETS_AAD } from '../device/agent.ts';
import { sealTo, secretsInfo, transportKeyStatement } from '../device/hpke.ts';
import { spkiKeyObject } from './csr-key.ts';
import { encodeCbor } from './link/cbor-encode.ts';
import { sha256Hex } from './runs.ts';
import type { SealRequest, SealResult, StationCaller } from './types.ts';

/** Names of the per-device secrets the server generates and seals. */
export const SECRET_NAMES = ['cloudToken', 'wifiKey', 'appKey'] as const;

/** The SPKI as a KeyObject, or undefined when it is not an importable public key. */
export function importable(spki: Uint8Array): KeyObject | undefined {
  try {
    return spkiKeyObject(spki);
  } catch {
    return undefined;
  }
}

/** Throws ERR_FACTORY_TRANSPORT_KEY_UNVERIFIED unless the identity key signed the transport key statement. */
export function verifyTransportKey(r: SealRequest, key: KeyObject | PublicKeyInput | undefined): void {
  let ok: boolean;
  try {
    ok =
      key !== undefined &&
      nodeVerify('sha256', transportKeyStatement(r.serial, r.transportPublicKey), key, r.signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new ForbiddenError(
      'ERR_FACTORY_TRANSPORT_KEY_UNVERIFIED',
      `the transport key of ${r.serial} is not signed by its identity key`,
    );
}

/** Fresh secrets sealed to the transport key, with their digests (the secrets themselves are zeroed). */
export async function sealSecrets(
  random: Random,
  r: SealRequest,
): Promise<{ sealed: SealResult; digests: Record<string, string> }> {
  const secrets: Record<string, Uint8Array> = {};
  for (const n of SECRET_NAMES) secrets[n] = random.bytes(32);
  const digests = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, sha256Hex(v)]));
  const pt = encodeCbor(secrets);
  try {
    return { sealed: await sealTo(r.transportPublicKey, pt, secretsInfo(r.serial), SECRETS_AAD), digests };
  } finally {
    pt.fill(0);
    for (const v of Object.values(secrets)) v.fill(0);
  }
}

/** The audit event of a sealing (names only, never values). */
export function sealedEvent(st: StationCaller, r: SealRequest, deviceId: string): AuditEvent {
  return {
    ...st,
    action: 'factory.secrets.sealed',
    subject: deviceId,
    tenantId: st.tenantId,
    details: { serial: r.serial, names: [...SECRET_NAMES] },
  };
}
