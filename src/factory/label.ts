import QRCode from 'qrcode';
import jsqrModule from 'jsqr';
import { PNG } from 'pngjs';
import { ValidationError } from '../core/errors.ts';

/** What a device label's QR code carries. */
export interface LabelPayload {
  readonly deviceId: string;
  /** SHA-256 hex of the identity public key (SPKI). */
  readonly fingerprint: string;
  /** The one-time claim code. */
  readonly claimCode: string;
}

// jsqr is CommonJS with `exports.default`: Node hands us the function, TypeScript sees the namespace.
type JsQr = typeof jsqrModule.default;
const jsQR: JsQr = typeof jsqrModule === 'function' ? jsqrModule : jsqrModule.default;

const PREFIX = 'IMPRINT1';
const RE = /^IMPRINT1\/(dev_[0-9a-v]{1,40})\/([0-9a-f]{64})\/([A-Z2-9]{20})$/;

/** The QR text of a label: `IMPRINT1/<deviceId>/<fingerprint>/<claim code>`. */
export function labelText(p: LabelPayload): string {
  return `${PREFIX}/${p.deviceId}/${p.fingerprint}/${p.claimCode}`;
}

/** Parses QR text. Throws ERR_CLAIM_QR_INVALID. */
export function parseLabel(text: string): LabelPayload {
  const m = RE.exec(text.trim());
  if (m === null)
    throw new ValidationError('ERR_CLAIM_QR_INVALID', 'the QR code is not an Imprint device label');
  return { deviceId: m[1]!, fingerprint: m[2]!, claimCode: m[3]! };
}

/** The label as PNG bytes and SVG text. */
export async function renderLabel(p: LabelPayload): Promise<{ png: Uint8Array; svg: string }> {
  const text = labelText(p);
  const opts = { errorCorrectionLevel: 'M' as const, margin: 4 };
  const png = await QRCode.toBuffer(text, { ...opts, type: 'png', scale: 6 });
  const svg = await QRCode.toString(text, { ...opts, type: 'svg' });
  return { png: new Uint8Array(png), svg };
}

/** Decodes a label from a PNG picture. Throws ERR_CLAIM_QR_UNREADABLE, ERR_CLAIM_QR_INVALID. */
export function decodeLabelPng(png: Uint8Array): LabelPayload {
  let img: PNG;
  try {
    img = PNG.sync.read(Buffer.from(png));
  } catch (cause) {
    throw new ValidationError('ERR_CLAIM_QR_UNREADABLE', 'the picture is not a readable PNG', { cause });
  }
  const code = jsQR(
    new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength),
    img.width,
    img.height,
  );
  if (code === null) throw new ValidationError('ERR_CLAIM_QR_UNREADABLE', 'no QR code found in the picture');
  return parseLabel(code.data);
}
