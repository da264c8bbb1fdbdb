/** What the SZTP agent needs from the device's secure element and its preconfigured state (RFC 8572 §5.1). */
import { createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import type { Clock } from '../../core/clock.ts';
import type { CmsDecryptor } from '../../sztp/cms/enveloped.ts';
import type { CsrRequest, CsrSupport } from '../../sztp/types.ts';

/**
 * The device's IDevID: certificate chain (leaf first), the key for the TLS client handshake, and the
 * private-key operations EnvelopedData needs. A hardware element exposes `tlsKey` as an engine or provider
 * key; the simulated one hands Node a KeyObject.
 */
export interface DeviceIdentity {
  readonly serial: string;
  readonly chain: readonly Uint8Array[];
  readonly tlsKey: KeyObject;
  /** Private-key operations for decrypting conveyed information; absent when the element cannot decrypt. */
  readonly decryptor?: Omit<CmsDecryptor, 'certificate'>;
}

/** A well-known or redirected bootstrap server. */
export interface ServerRef {
  readonly address: string;
  readonly port?: number;
  /** DER certificates that authenticate this server's TLS certificate (absent: provisional only). */
  readonly trustAnchors?: readonly Uint8Array[];
}

/** RFC 8572 §5.1 preconfigured state plus the device's policy. */
export interface PreconfiguredState {
  readonly identity: DeviceIdentity;
  /** Well-known bootstrap servers (trusted through `serverTrustAnchors`). */
  readonly bootstrapServers: readonly ServerRef[];
  /** Trust anchors for the TLS certificates of well-known bootstrap servers. */
  readonly serverTrustAnchors: readonly Uint8Array[];
  /** Trust anchors for ownership vouchers (the manufacturer's MASA roots). */
  readonly voucherTrustAnchors: readonly Uint8Array[];
  readonly hwModel?: string;
  /** Assertions the device accepts in a voucher (default: all three). */
  readonly acceptedAssertions?: readonly ('verified' | 'logged' | 'proximity')[];
  /** Revocation check for the owner chain when a voucher asks for it; returns true when none is revoked. */
  readonly checkRevocation?: (chain: readonly Uint8Array[]) => Promise<boolean>;
  readonly clock: Clock;
  /** RFC 9646: what CSRs the device can make, and how (PKCS#10 DER, signed in the secure element). */
  readonly csr?: { readonly support: CsrSupport; make(request: CsrRequest): Promise<Uint8Array> };
}

/** A DeviceIdentity over a software private key (the simulated secure element's key, or a test key). */
export function softwareIdentity(
  serial: string,
  chain: readonly Uint8Array[],
  key: KeyObject,
): DeviceIdentity {
  const ecdh = (peer: Uint8Array) =>
    Promise.resolve(
      new Uint8Array(
        diffieHellman({
          privateKey: key,
          publicKey: createPublicKey({ key: Buffer.from(peer), format: 'der', type: 'spki' }),
        }),
      ),
    );
  return { serial, chain, tlsKey: key, decryptor: key.asymmetricKeyType === 'ec' ? { ecdh } : {} };
}

/**
 * What a secure element must offer beyond signing for SZTP: its identity key usable by the TLS stack (a
 * KeyObject for the software element; an engine or provider key on hardware) and, for EnvelopedData to an
 * EC IDevID, an ECDH operation. The simulator's element does not offer these yet.
 */
export interface SztpCapableElement {
  identityTlsKey(): Promise<KeyObject>;
  ecdh?(peerSpki: Uint8Array): Promise<Uint8Array>;
}

/** A DeviceIdentity over a device's secure element and its stored IDevID chain. */
export async function secureElementIdentity(
  serial: string,
  chain: readonly Uint8Array[],
  se: SztpCapableElement,
): Promise<DeviceIdentity> {
  const tlsKey = await se.identityTlsKey();
  const ecdh = se.ecdh?.bind(se);
  return { serial, chain, tlsKey, decryptor: ecdh !== undefined ? { ecdh } : {} };
}
