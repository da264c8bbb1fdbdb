/**
 * RFC 8572 §5.1 preconfigured state of a factory-provisioned simulated device: the IDevID chain the factory
 * stored in its secure element and the element's key (used through a TLS context, never exported), plus the
 * bootstrap servers and trust anchors the device was given.
 */
import type { Clock } from '../../core/clock.ts';
import { ImprintError } from '../../core/errors.ts';
import { buildIdentityCsr } from '../csr.ts';
import { hasTlsIdentity } from '../secure-element.ts';
import type { SimulatedDevice } from '../simulator.ts';
import { secureElementIdentity, type PreconfiguredState, type ServerRef } from './identity.ts';

/** What the device was configured with besides its identity. */
export interface SimulatedDeviceConfig {
  readonly bootstrapServers: readonly ServerRef[];
  readonly serverTrustAnchors: readonly Uint8Array[];
  readonly voucherTrustAnchors: readonly Uint8Array[];
  readonly clock: Clock;
  /** Offer RFC 9646 CSRs (signed inside the secure element) when the server asks for one. */
  readonly csr?: boolean;
}

/**
 * The agent's preconfigured state for a simulated device. Throws ERR_SZTP_NO_IDEVID when the factory
 * stored no IDevID chain, ERR_SZTP_ELEMENT_UNSUPPORTED when the element cannot do TLS.
 */
export async function simulatedDeviceState(
  device: SimulatedDevice,
  config: SimulatedDeviceConfig,
): Promise<PreconfiguredState> {
  const se = device.secureElement;
  if (!hasTlsIdentity(se)) {
    throw new ImprintError(
      'ERR_SZTP_ELEMENT_UNSUPPORTED',
      409,
      'this secure element cannot hold a TLS client identity',
    );
  }
  const chain = await se.identityChain();
  if (chain.length === 0) {
    throw new ImprintError(
      'ERR_SZTP_NO_IDEVID',
      409,
      `device ${device.serial} holds no IDevID certificate (not factory-provisioned?)`,
    );
  }
  return {
    identity: secureElementIdentity(device.serial, chain, se),
    bootstrapServers: config.bootstrapServers,
    serverTrustAnchors: config.serverTrustAnchors,
    voucherTrustAnchors: config.voucherTrustAnchors,
    hwModel: device.model,
    clock: config.clock,
    ...(config.csr === true
      ? {
          csr: {
            support: { supportedFormats: ['p10-csr'] as const },
            // The device certifies the key its element holds; the server's algorithm choice is not needed.
            make: () => buildIdentityCsr(se, device.serial),
          },
        }
      : {}),
  };
}
