import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { firmwareCommand, type OpenFirmware } from '../../src/cli/firmware.ts';
import { hasCode } from '../../src/core/errors.ts';

const FIX = '../shared/fixtures/mcuboot';
const dir = mkdtempSync(join(tmpdir(), 'imprint-fwcli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const noPlatform: OpenFirmware = () => Promise.reject(new Error('no platform in this test'));

async function run(...args: string[]): Promise<string> {
  const program = new Command('imprint').option('--json').exitOverride();
  program.addCommand(firmwareCommand(noPlatform));
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  };
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('');
}

describe('imprint firmware CLI', () => {
  it('sign reproduces imgtool byte for byte (Ed25519), verify and inspect report it', async () => {
    const out = join(dir, 'ours.bin');
    await run(
      'firmware',
      'sign',
      join(FIX, 'fw.bin'),
      out,
      '-k',
      join(FIX, 'ed25519.pem'),
      '-v',
      '1.2.3+4',
      '-s',
      '7',
      '-H',
      '0x200',
    );
    assert.deepEqual(readFileSync(out), readFileSync(join(FIX, 'signed-ed25519.bin')));
    const v = JSON.parse(
      await run('--json', 'firmware', 'verify', out, '-k', join(FIX, 'ed25519.pem')),
    ) as Record<string, unknown>;
    assert.equal(v.version, '1.2.3+4');
    assert.equal(v.securityCounter, 7);
    const i = JSON.parse(
      await run('firmware', 'inspect', join(FIX, 'signed-rsa3072-pubkey.bin'), '--json'),
    ) as { tlvs: { type: string }[]; hdrSize: number };
    assert.equal(i.hdrSize, 0x200);
    assert.deepEqual(
      i.tlvs.map((t) => t.type),
      ['0x10', '0x02', '0x23'],
    );
  });

  it('encrypts for an X25519 key and verifies with decryption', async () => {
    const out = join(dir, 'enc.bin');
    await run(
      'firmware',
      'sign',
      join(FIX, 'fw.bin'),
      out,
      '-k',
      join(FIX, 'ec256.pem'),
      '-v',
      '3.0.0',
      '-E',
      join(FIX, 'x25519.pem'),
    );
    const v = JSON.parse(
      await run(
        '--json',
        'firmware',
        'verify',
        out,
        '-k',
        join(FIX, 'ec256.pem'),
        '-d',
        join(FIX, 'x25519.pem'),
      ),
    ) as Record<string, unknown>;
    assert.equal(v.decrypted, true);
  });

  it('refuses an image signed by another key', async () => {
    await assert.rejects(
      run('firmware', 'verify', join(FIX, 'signed-ed25519.bin'), '-k', join(FIX, 'ec256.pem')),
      (e) => hasCode(e, 'ERR_FIRMWARE_NO_TRUSTED_SIGNATURE'),
    );
  });
});
