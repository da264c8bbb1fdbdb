/** What the SZTP agent needs from the device's secure element and its preconfigured state (RFC 8572 §5.1). */
import { createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { toPem } from '../../core/encoding.ts';
import type { Clock } from '../../core/clock.ts';
import type { CmsDecryptor } from '../../sztp/cms/enveloped.ts';
import type { CsrRequest, CsrSupport } from '../../sztp/types.ts';
import type { TlsIdentityElement } from '../secure-element.ts';

/**
 * The device's IDevID: certificate chain (leaf first), a TLS client context holding its key, and the
 * private-key operations EnvelopedData needs. The agent never handles the private key itself: Node's TLS
 * takes keys only as bytes inside a SecureContext, so the secure element builds that context (a hardware
 * element would load an OpenSSL provider key into it).
 */
export interface DeviceIdentity {
  readonly serial: string;
  readonly chain: readonly Uint8Array[];
  /** A TLS client context with the IDevID key and chain that trusts `ca` (the default roots when empty). */
  tlsContext(ca: readonly Uint8Array[]): Promise<SecureContext>;
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
  const tlsContext = (ca: readonly Uint8Array[]) =>
    Promise.resolve(
      createSecureContext({
        key: key.export({ type: 'pkcs8', format: 'pem' }),
        cert: chain.map((c) => toPem('CERTIFICATE', c)).join(''),
        ...(ca.length > 0 ? { ca: ca.map((c) => toPem('CERTIFICATE', c)) } : {}),
      }),
    );
  return { serial, chain, tlsContext, decryptor: key.asymmetricKeyType === 'ec' ? { ecdh } : {} };
}

/** A DeviceIdentity over a device's secure element and its stored IDevID chain (leaf first). */
export function secureElementIdentity(
  serial: string,
  chain: readonly Uint8Array[],
  se: TlsIdentityElement,
): DeviceIdentity {
  const ecdh = se.ecdh?.bind(se);
  return {
    serial,
    chain,
    tlsContext: (ca) => se.identityTlsContext({ chain, ca }),
    decryptor: ecdh !== undefined ? { ecdh } : {},
  };
}
