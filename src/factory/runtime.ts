import type { Core } from '../server/types.ts';
import { pkiContext } from '../pki/context.ts';
import { ClaimService } from './claims.ts';
import { codeSigningFirmwareSource, demoFirmwareImage } from './firmware.ts';
import { pkiIdentityIssuer } from './issuer.ts';
import { ManifestService } from './manifest.ts';
import { FactoryService } from './service.ts';

/** The factory's services over one process's core, for the server and the CLI. */
export interface FactoryServices {
  readonly core: Core;
  readonly factory: FactoryService;
  readonly manifests: ManifestService;
  readonly claims: ClaimService;
}

/**
 * Wires the factory services. `publicUrl` goes into issued certificates (CRL/OCSP links);
 * `firmwareImage` is what batches write (a deterministic demo image when omitted).
 */
export function factoryServices(
  core: Core,
  options: { publicUrl: string; firmwareImage?: Uint8Array; firmwareVersion?: string },
): FactoryServices {
  const ctx = pkiContext(core, { urls: { baseUrl: options.publicUrl } });
  const factory = new FactoryService({
    ...core,
    issuer: pkiIdentityIssuer(ctx),
    firmware: codeSigningFirmwareSource(
      core,
      options.firmwareImage ?? demoFirmwareImage(),
      options.firmwareVersion ?? '1.0.0',
    ),
  });
  return { core, factory, manifests: new ManifestService(core), claims: new ClaimService(core) };
}
