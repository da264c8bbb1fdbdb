import { ImprintError } from '../../core/errors.ts';

/** Where on the line a failure happened: the device and the provisioning step. */
export interface LinkPlace {
  readonly device: string;
  readonly step: string;
}

/**
 * A failure of the provisioning link or of the device, naming the device and the step.
 * Codes: ERR_LINK_TIMEOUT, ERR_LINK_GARBAGE, ERR_LINK_DISCONNECTED, ERR_LINK_VERSION,
 * ERR_LINK_BAD_MESSAGE, ERR_LINK_TOO_LARGE, or a device error code relayed as reported.
 */
export class LinkError extends ImprintError {
  readonly device: string;
  readonly step: string;
  constructor(
    code: string,
    place: LinkPlace,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(code, options.status ?? 502, `device ${place.device}, step ${place.step}: ${message}`, {
      details: { device: place.device, step: place.step },
      cause: options.cause,
    });
    this.device = place.device;
    this.step = place.step;
  }
}
