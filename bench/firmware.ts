/**
 * Firmware signing and verification throughput against Node's raw SHA-256 over the same bytes (the
 * limit: both are one SHA-256 pass plus one signature). Run: `npx tsx bench/firmware.ts`.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { cpus } from 'node:os';
import { mcubootKey } from '../src/firmware/mcuboot/keys.ts';
import { verifyImage } from '../src/firmware/mcuboot/verify.ts';
import { draftImage } from '../src/firmware/mcuboot/write.ts';
import { privateKeySigner, signImage } from '../src/firmware/signer.ts';

const SIZES = [64 * 1024, 1024 * 1024, 16 * 1024 * 1024];
const { privateKey } = generateKeyPairSync('ed25519');
const signer = privateKeySigner(privateKey);
const trust = { keys: [mcubootKey(signer.publicKey.key)] };

async function timeIt(bytes: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < 2; i++) await fn(); // warm up
  const budget = 1_500_000_000n; // ~1.5 s per measurement
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < budget || runs < 3) {
    await fn();
    runs++;
    elapsed = process.hrtime.bigint() - start;
  }
  return (bytes * runs) / (Number(elapsed) / 1e9) / (1024 * 1024);
}

const pct = (v: number, limit: number) => `${v.toFixed(0)} (${((v / limit) * 100).toFixed(0)}%)`;
const rows: string[] = [];
for (const size of SIZES) {
  const payload = new Uint8Array(size).map((_, i) => (i * 2654435761) >>> 24);
  const spec = {
    payload,
    version: { major: 1, minor: 0, revision: 0, build: 0 },
    headerSize: 0x200,
    securityCounter: 1,
  };
  const image = await signImage(spec, signer);
  const sha = await timeIt(size, () => createHash('sha256').update(payload).digest());
  const sign = await timeIt(size, () => signImage(spec, signer));
  const signParts = await timeIt(size, async () => {
    const d = draftImage(spec, signer.publicKey);
    return d.finishParts(await signer.signDigest(d.digest));
  });
  const verify = await timeIt(size, () => verifyImage(image, trust));
  const label = size >= 1024 * 1024 ? `${size / (1024 * 1024)} MiB` : `${size / 1024} KiB`;
  rows.push(
    `| ${label} | ${sha.toFixed(0)} | ${pct(signParts, sha)} | ${pct(sign, sha)} | ${pct(verify, sha)} |`,
  );
}
console.log(
  `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length}; Ed25519 release key (software), MiB/s`,
);
console.log('| image | raw SHA-256 | sign (image as parts) | sign (one contiguous buffer) | verify |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
