/** JSON forms of the station ↔ server messages: bytes travel as standard base64. */
import { Type } from 'typebox';
import { ValidationError } from '../core/errors.ts';
import { fromBase64, toBase64 } from '../core/encoding.ts';

const B64 = Type.String({ maxLength: 1_400_000, pattern: '^[A-Za-z0-9+/]*={0,2}$' });
const ID = Type.String({ minLength: 1, maxLength: 64 });
const SERIAL = Type.String({ minLength: 1, maxLength: 64 });

export const BeginBody = Type.Object(
  { batchId: ID, serial: SERIAL, model: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
export const IssueBody = Type.Object(
  { batchId: ID, serial: SERIAL, publicKey: B64, csr: B64 },
  { additionalProperties: false },
);
export const StartBody = Type.Object(
  {
    batchId: ID,
    serial: SERIAL,
    model: Type.String({ minLength: 1, maxLength: 64 }),
    publicKey: B64,
    csr: B64,
    transportPublicKey: B64,
    signature: B64,
  },
  { additionalProperties: false },
);
export const SealBody = Type.Object(
  { batchId: ID, serial: SERIAL, transportPublicKey: B64, signature: B64 },
  { additionalProperties: false },
);
export const CompleteBody = Type.Object(
  {
    batchId: ID,
    serial: SERIAL,
    readback: Type.Object(
      {
        fuses: Type.Object(
          { secureBoot: Type.Boolean(), debugLocked: Type.Boolean(), provisioned: Type.Boolean() },
          { additionalProperties: false },
        ),
        identityPublicKey: B64,
        firmwareSha256: B64,
        configSha256: B64,
        rotpkHash: B64,
        secrets: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export const AbortBody = Type.Object(
  {
    batchId: ID,
    serial: SERIAL,
    step: Type.String({ maxLength: 32 }),
    code: Type.String({ maxLength: 64 }),
    message: Type.String({ maxLength: 500 }),
  },
  { additionalProperties: false },
);

/** Decodes a base64 field. Throws ERR_FACTORY_BAD_ENCODING. */
export function b64(s: string, field: string): Uint8Array {
  try {
    return fromBase64(s);
  } catch {
    throw new ValidationError('ERR_FACTORY_BAD_ENCODING', `${field} is not base64`);
  }
}

/** Encodes bytes for JSON. */
export function enc(b: Uint8Array): string {
  return toBase64(b);
}
