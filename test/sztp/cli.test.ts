import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deviceOnboardCommand } from '../../src/cli/device-onboard.ts';
import { sztpCommand } from '../../src/cli/sztp.ts';
import { webhookDeliverer } from '../../src/sztp/webhooks.ts';
import { keyPem, pem } from './pki-helpers.ts';
import { makeWorld, onboardingDoc, type World } from './world.ts';

let w: World;
const dir = mkdtempSync(join(tmpdir(), 'imprint-sztp-cli-'));
const image = new TextEncoder().encode('cli image');
const imageServer = createServer((_req, res) => res.end(Buffer.from(image)));
before(async () => {
  w = await makeWorld({ serial: 'SN-CLI' });
  await new Promise<void>((r) => imageServer.listen(0, '127.0.0.1', r));
});
after(async () => {
  await w.close();
  await new Promise((r) => imageServer.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('imprint sztp … administers, imprint device onboard bootstraps into a state directory', async () => {
  const hash = new Uint8Array(createHash('sha256').update(image).digest());
  const doc = onboardingDoc(image, hash) as Record<string, Record<string, Record<string, unknown>>>;
  const port = (imageServer.address() as AddressInfo).port;
  doc['ietf-sztp-conveyed-info:onboarding-information']!['boot-image']!['download-uri'] = [
    `http://127.0.0.1:${port}/img`,
  ];
  writeFileSync(join(dir, 'doc.json'), JSON.stringify(doc));
  const open = () =>
    Promise.resolve({
      admin: w.admin,
      bootstrap: w.bootstrap,
      actor: { actor: 'cli:test' },
      close: () => Promise.resolve(),
    });
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (s: string) => (out.push(s), true);
  try {
    await sztpCommand(open).parseAsync(
      ['bind', '--tenant', w.mfgTenantId, '--owner', w.ownerId, '--serial', 'SN-CLI'],
      { from: 'user' },
    );
    await sztpCommand(open).parseAsync(
      [
        'record',
        '--owner',
        w.ownerId,
        '--scope',
        'owner',
        '--scope-id',
        w.ownerId,
        '--file',
        join(dir, 'doc.json'),
      ],
      { from: 'user' },
    );
    writeFileSync(join(dir, 'idevid.pem'), pem(w.idevid));
    writeFileSync(join(dir, 'idevid.key'), keyPem(w.idevid));
    writeFileSync(join(dir, 'server-ca.pem'), pem(w.tlsCa));
    writeFileSync(join(dir, 'voucher-ca.pem'), pem(w.masaRoot));
    await deviceOnboardCommand().parseAsync(
      [
        '--serial',
        'SN-CLI',
        '--cert',
        join(dir, 'idevid.pem'),
        '--key',
        join(dir, 'idevid.key'),
        '--server',
        `127.0.0.1:${w.port}`,
        '--server-ca',
        join(dir, 'server-ca.pem'),
        '--voucher-ca',
        join(dir, 'voucher-ca.pem'),
        '--state-dir',
        join(dir, 'state'),
      ],
      { from: 'user' },
    );
    await sztpCommand(open).parseAsync(['log', '--tenant', w.ownerTenantId, '--device', w.device.id], {
      from: 'user',
    });
  } finally {
    process.stdout.write = write;
  }
  assert.match(out.join(''), /"ok": true/);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'state', 'boot-image.bin'))), image);
  assert.equal(readFileSync(join(dir, 'state', 'configuration'), 'utf8'), '{"hostname":"sensor"}');
  assert.equal(JSON.parse(readFileSync(join(dir, 'state', 'os.json'), 'utf8')).version, '2.0');
  assert.match(out.join(''), /"progressType": "bootstrap-complete"/);
});

test('webhooks receive progress events', async () => {
  const got: string[] = [];
  const hook = createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => {
      got.push(b);
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  webhookDeliverer()({
    ownerId: 'own_1',
    deviceId: 'dev_1',
    serial: 'SN-1',
    progressType: 'bootstrap-complete',
    urls: [url],
  });
  for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => hook.close(r));
  assert.equal(JSON.parse(got[0] ?? '{}').progressType, 'bootstrap-complete');
});
