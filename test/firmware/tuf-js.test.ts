import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Updater } from 'tuf-js';
import { toBase64 } from '../../src/core/encoding.ts';
import { firmwareBytes } from './helpers.ts';
import { firmwareServer, type FirmwareServer } from './server.ts';

describe('tuf-js consumes the Imprint TUF repository over HTTP', () => {
  let s: FirmwareServer & { baseUrl: string };
  let dir: string;
  before(async () => {
    s = await firmwareServer({ listen: true });
    dir = mkdtempSync(join(tmpdir(), 'imprint-tufjs-'));
  });
  after(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const api = async (url: string, body: unknown, token: string) => {
    const r = await s.app.inject({
      method: 'POST',
      url,
      payload: body as object,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: r.statusCode, json: r.json<Record<string, unknown>>() };
  };

  it('signs through the API (release-manager only), publishes, rotates keys, and tuf-js downloads the target', async () => {
    const denied = await api(
      '/api/v1/firmware/keys',
      { label: 'fw', algorithm: 'ed25519' },
      s.tokens.operator,
    );
    assert.equal(denied.status, 403);
    const key = await api('/api/v1/firmware/keys', { label: 'fw', algorithm: 'ecdsa-p256' }, s.tokens.rm);
    assert.equal(key.status, 201);
    const fw = firmwareBytes(20_000, 3);
    const signed = await api(
      '/api/v1/firmware/sign',
      { keyId: key.json.keyId, firmware: toBase64(fw), version: '1.1.0', securityCounter: 4 },
      s.tokens.rm,
    );
    assert.equal(signed.status, 201);
    assert.equal(signed.json.state, 'signed');
    const digest = signed.json.imageDigest as string;
    assert.equal(
      (await api('/api/v1/firmware/tuf/init', { rootKeys: 2, rootThreshold: 2 }, s.tokens.rm)).status,
      201,
    );
    const root1 = await (await fetch(`${s.baseUrl}/tuf/${s.tenantId}/1.root.json`)).text();
    const added = await api(
      '/api/v1/firmware/tuf/targets',
      { imageDigest: digest, modelId: s.model.id },
      s.tokens.rm,
    );
    assert.equal(added.status, 201);
    const path = added.json.path as string;
    assert.equal((await api('/api/v1/firmware/tuf/rotate', { role: 'timestamp' }, s.tokens.rm)).status, 200);
    assert.equal((await api('/api/v1/firmware/tuf/rotate', { role: 'root' }, s.tokens.rm)).status, 200);
    assert.equal((await api('/api/v1/firmware/tuf/rotate', { role: 'targets' }, s.tokens.rm)).status, 200);

    const metadataDir = join(dir, 'metadata');
    const targetDir = join(dir, 'targets');
    for (const d of [metadataDir, targetDir]) rmSync(d, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(metadataDir);
    (await import('node:fs')).mkdirSync(targetDir);
    writeFileSync(join(metadataDir, 'root.json'), root1);
    const updater = new Updater({
      metadataBaseUrl: `${s.baseUrl}/tuf/${s.tenantId}`,
      targetBaseUrl: `${s.baseUrl}/tuf/${s.tenantId}/targets`,
      metadataDir,
      targetDir,
    });
    await updater.refresh();
    const info = await updater.getTargetInfo(path);
    assert.ok(info, 'target found through the model delegation');
    assert.equal(info.custom.hardwareModel, 'sensor-1');
    assert.equal(info.custom.securityCounter, 4);
    const file = await updater.downloadTarget(info, join(targetDir, 'fw.bin'));
    const image = await s.signing.imageBytes(s.tenantId, digest);
    assert.deepEqual(readFileSync(file), Buffer.from(image));
    const trustedRoot = JSON.parse(readFileSync(join(metadataDir, 'root.json'), 'utf8')) as {
      signed: { version: number };
    };
    assert.equal(trustedRoot.signed.version, 4, 'tuf-js followed three root rotations');
  });
});
