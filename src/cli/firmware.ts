import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { fromHex, toHex } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import { mcubootKey } from '../firmware/mcuboot/keys.ts';
import { imageFacts, parseImage } from '../firmware/mcuboot/parse.ts';
import { formatVersion } from '../firmware/mcuboot/types.ts';
import { verifyImage } from '../firmware/mcuboot/verify.ts';
import { parseVersion } from '../firmware/mcuboot/version.ts';
import type { ImageSpec } from '../firmware/mcuboot/write.ts';
import { privateKeySigner, signImage } from '../firmware/signer.ts';
import type { SigningService } from '../firmware/signing-service.ts';

/** What `firmware sign --key-id` needs from an opened installation. */
export interface FirmwareCliContext {
  readonly signing: SigningService;
  readonly tenantId: string;
  readonly actor: string;
}

/** Opens the installation for `cmd`, runs `fn`, closes it (the lead wires this to the Platform). */
export type OpenFirmware = <T>(cmd: Command, fn: (ctx: FirmwareCliContext) => Promise<T>) => Promise<T>;

interface SignOpts {
  key?: string;
  keyId?: string;
  version: string;
  securityCounter?: string;
  headerSize: string;
  loadAddr?: string;
  vendorId?: string;
  classId?: string;
  publicKeyFormat: 'hash' | 'full';
  encrypt?: string;
  encryptKeylen: string;
  clear?: boolean;
}

function int(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ValidationError('ERR_FIRMWARE_BAD_IMAGE_SPEC', `${name} must be a non-negative integer`);
  return n;
}

function uuidBytes(text: string | undefined): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const hex = text.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex))
    throw new ValidationError('ERR_FIRMWARE_BAD_IMAGE_SPEC', 'UUIDs are 32 hex digits');
  return fromHex(hex);
}

function json(cmd: Command): boolean {
  return cmd.optsWithGlobals<{ json?: boolean }>().json === true;
}

function print(cmd: Command, data: Record<string, unknown>): void {
  if (json(cmd)) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else
    for (const [k, v] of Object.entries(data))
      process.stdout.write(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
}

function readKey(path: string): KeyObject {
  const pem = readFileSync(path, 'utf8');
  try {
    return createPrivateKey(pem);
  } catch {
    return createPublicKey(pem);
  }
}

/** `imprint firmware sign|verify|inspect`: MCUboot images with PEM keys (as imgtool) or release keys in the key store. */
export function firmwareCommand(open: OpenFirmware): Command {
  const cmd = new Command('firmware').description('sign, verify and inspect MCUboot firmware images');
  cmd
    .command('sign <input> <output>')
    .description('sign a raw firmware binary into an MCUboot image (imgtool-compatible)')
    .option('-k, --key <pem>', 'private key file (as imgtool -k)')
    .option('--key-id <id>', 'release key in the key store (subject to its approval policy)')
    .requiredOption('-v, --version <version>', 'major.minor.revision+build')
    .option('-s, --security-counter <n>', 'security counter (SEC_CNT TLV)')
    .option('-H, --header-size <n>', 'header size including padding', '0x200')
    .option('-L, --load-addr <n>', 'RAM load address')
    .option('--vendor-id <uuid>', 'vendor UUID (32 hex digits)')
    .option('--class-id <uuid>', 'class UUID (32 hex digits)')
    .addOption(
      new Option('--public-key-format <f>', 'KEYHASH or full PUBKEY TLV')
        .choices(['hash', 'full'])
        .default('hash'),
    )
    .option('-E, --encrypt <pem>', 'encrypt for this X25519 / P-256 / RSA public (or private) key')
    .addOption(new Option('--encrypt-keylen <bits>', 'AES key length').choices(['128', '256']).default('128'))
    .option('--clear', 'add the encryption TLV but keep the payload in clear')
    .option('--json', 'print the result as JSON')
    .action(async (input: string, outputPath: string, o: SignOpts, self: Command) => {
      const payload = new Uint8Array(readFileSync(input));
      if ((o.key === undefined) === (o.keyId === undefined))
        throw new ValidationError('ERR_FIRMWARE_BAD_IMAGE_SPEC', 'give exactly one of --key and --key-id');
      if (o.keyId !== undefined) {
        const keyId = o.keyId;
        const req = await open(self, async (ctx) =>
          ctx.signing
            .requestSignature({ actor: ctx.actor, tenantId: ctx.tenantId }, keyId, payload, {
              version: o.version,
              headerSize: int(o.headerSize, 'header size') ?? 0x200,
              publicKeyFormat: o.publicKeyFormat,
              ...(o.securityCounter === undefined
                ? {}
                : { securityCounter: int(o.securityCounter, 'security counter') ?? 0 }),
              ...(o.loadAddr === undefined ? {} : { loadAddr: int(o.loadAddr, 'load address') ?? 0 }),
              ...(o.vendorId === undefined ? {} : { vendorId: o.vendorId }),
              ...(o.classId === undefined ? {} : { classId: o.classId }),
            })
            .then(async (r) => ({
              r,
              image:
                r.imageDigest === null
                  ? undefined
                  : await ctx.signing.imageBytes(ctx.tenantId, r.imageDigest),
            })),
        );
        if (req.image !== undefined) writeFileSync(outputPath, req.image);
        print(self, {
          request: req.r.id,
          state: req.r.state,
          imageHash: req.r.digest,
          approvals: `${req.r.approvals.length}/${req.r.approvalsRequired}`,
          written: req.image !== undefined,
        });
        return;
      }
      const signer = privateKeySigner(readFileSync(o.key ?? '', 'utf8'));
      const vid = uuidBytes(o.vendorId);
      const cid = uuidBytes(o.classId);
      const sc = int(o.securityCounter, 'security counter');
      const la = int(o.loadAddr, 'load address');
      const spec: ImageSpec = {
        payload,
        version: parseVersion(o.version),
        headerSize: int(o.headerSize, 'header size') ?? 0x200,
        publicKeyFormat: o.publicKeyFormat,
        ...(sc === undefined ? {} : { securityCounter: sc }),
        ...(la === undefined ? {} : { loadAddr: la }),
        ...(vid === undefined ? {} : { vendorId: vid }),
        ...(cid === undefined ? {} : { classId: cid }),
        ...(o.encrypt === undefined
          ? {}
          : {
              encryption: {
                recipient: readKey(o.encrypt),
                keyLength: o.encryptKeylen === '256' ? 32 : 16,
                clear: o.clear === true,
              },
            }),
      };
      const image = await signImage(spec, signer);
      writeFileSync(outputPath, image);
      const v = verifyImage(image, {
        keys: [signer.publicKey],
        ...(o.encrypt === undefined || o.clear === true ? {} : { decryptionKey: readKey(o.encrypt) }),
      });
      print(self, {
        output: outputPath,
        size: image.length,
        version: formatVersion(v.facts.version),
        imageHash: toHex(v.digest),
        keyHash: toHex(v.keyHash),
      });
    });
  cmd
    .command('verify <image>')
    .description('verify an MCUboot image against trusted public (or private) keys')
    .requiredOption('-k, --key <pem...>', 'trusted key file(s)')
    .option('-d, --decrypt <pem>', 'decryption private key for encrypted images')
    .option('--json', 'print the result as JSON')
    .action((path: string, o: { key: string[]; decrypt?: string }, self: Command) => {
      const v = verifyImage(new Uint8Array(readFileSync(path)), {
        keys: o.key.map((k) => mcubootKey(readKey(k))),
        ...(o.decrypt === undefined
          ? {}
          : { decryptionKey: createPrivateKey(readFileSync(o.decrypt, 'utf8')) }),
      });
      print(self, {
        verified: true,
        version: formatVersion(v.facts.version),
        securityCounter: v.facts.securityCounter ?? null,
        imageHash: toHex(v.digest),
        keyHash: toHex(v.keyHash),
        keyType: v.keyType,
        encrypted: v.facts.encrypted,
        decrypted: v.decrypted,
      });
    });
  cmd
    .command('inspect <image>')
    .description('print the header and TLVs of an MCUboot image (no verification)')
    .option('--json', 'print the result as JSON')
    .action((path: string, _o: unknown, self: Command) => {
      const image = parseImage(new Uint8Array(readFileSync(path)));
      const facts = imageFacts(image);
      print(self, {
        ...image.header,
        version: formatVersion(facts.version),
        securityCounter: facts.securityCounter ?? null,
        vendorId: facts.vendorId === undefined ? null : toHex(facts.vendorId),
        classId: facts.classId === undefined ? null : toHex(facts.classId),
        encrypted: facts.encrypted,
        tlvs: image.tlvs.map((t) => ({
          type: `0x${t.type.toString(16).padStart(2, '0')}`,
          length: t.value.length,
          protected: t.protected,
          ...(t.value.length <= 64 ? { value: toHex(t.value) } : {}),
        })),
      });
    });
  return cmd;
}
