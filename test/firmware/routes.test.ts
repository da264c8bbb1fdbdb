import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toBase64 } from '../../src/core/encoding.ts';
import { firmwareBytes } from './helpers.ts';
import { firmwareServer, type FirmwareServer } from './server.ts';

describe('firmware API', () => {
  let s: FirmwareServer;
  before(async () => {
    s = await firmwareServer();
  });
  after(() => s.close());

  const call = async (method: 'GET' | 'POST', url: string, token?: string, body?: object) => {
    const r = await s.app.inject({
      method,
      url,
      ...(body === undefined ? {} : { payload: body }),
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: r.statusCode, json: r.json<Record<string, unknown>>() };
  };

  it('k-of-n approval over the API, then a release staged and its progress', async () => {
    const key = await call('POST', '/api/v1/firmware/keys', s.tokens.rm, {
      label: 'rel-2',
      algorithm: 'ecdsa-p256',
      approvalsRequired: 1,
    });
    const req = await call('POST', '/api/v1/firmware/sign', s.tokens.rm, {
      keyId: key.json.keyId,
      firmware: toBase64(firmwareBytes(2000)),
      version: '3.0.0',
      securityCounter: 3,
    });
    assert.equal(req.json.state, 'pending');
    assert.equal(
      (await call('POST', `/api/v1/firmware/requests/${String(req.json.id)}/approve`, s.tokens.rm)).json
        .error !== undefined,
      true,
    );
    assert.equal(
      (await call('POST', `/api/v1/firmware/requests/${String(req.json.id)}/approve`, s.tokens.operator))
        .status,
      403,
    );
    const approved = await call(
      'POST',
      `/api/v1/firmware/requests/${String(req.json.id)}/approve`,
      s.tokens.rm2,
    );
    assert.equal(approved.json.state, 'signed');
    const digest = approved.json.imageDigest as string;
    assert.equal(
      (await call('GET', `/api/v1/firmware/images/${digest}`, s.tokens.operator)).json.version,
      '3.0.0',
    );

    assert.equal(
      (
        await call('POST', '/api/v1/firmware/releases', s.tokens.operator, {
          imageDigest: digest,
          modelIds: [s.model.id],
        })
      ).status,
      403,
    );
    const rel = await call('POST', '/api/v1/firmware/releases', s.tokens.rm, {
      imageDigest: digest,
      modelIds: [s.model.id],
    });
    assert.equal(rel.status, 201);
    const staged = await call('POST', `/api/v1/firmware/releases/${String(rel.json.id)}/stage`, s.tokens.rm, {
      stage: 'all',
    });
    assert.equal(staged.json.stage, 'all');
    const back = await call('POST', `/api/v1/firmware/releases/${String(rel.json.id)}/stage`, s.tokens.rm, {
      stage: 'percentage',
      percent: 10,
    });
    assert.equal(back.status, 409);
    assert.equal((back.json.error as { code: string }).code, 'ERR_FIRMWARE_STAGE_BACKWARDS');
    const prog = await call(
      'GET',
      `/api/v1/firmware/releases/${String(rel.json.id)}/progress`,
      s.tokens.operator,
    );
    assert.deepEqual(prog.json.total, { devices: 0, eligible: 0, installed: 0 });
  });

  it('serves TUF metadata publicly and answers 404 for what does not exist', async () => {
    const miss = await call('GET', `/tuf/${s.tenantId}/1.root.json`);
    assert.equal(miss.status, 404, JSON.stringify(miss.json));
    await call('POST', '/api/v1/firmware/tuf/init', s.tokens.rm, {});
    assert.equal((await call('GET', `/tuf/${s.tenantId}/1.root.json`)).status, 200);
    assert.equal((await call('GET', `/tuf/${s.tenantId}/timestamp.json`)).json.signed !== undefined, true);
    assert.equal((await call('GET', `/tuf/${s.tenantId}/targets/nope/x.bin`)).status, 404);
  });

  it('refuses bad sign requests with their codes', async () => {
    const key = await call('POST', '/api/v1/firmware/keys', s.tokens.rm, {
      label: 'rel-3',
      algorithm: 'ed25519',
    });
    const bad = await call('POST', '/api/v1/firmware/sign', s.tokens.rm, {
      keyId: key.json.keyId,
      firmware: toBase64(firmwareBytes(20)),
      version: 'one',
    });
    assert.equal((bad.json.error as { code: string }).code, 'ERR_FIRMWARE_BAD_VERSION');
    const unknown = await call('POST', '/api/v1/firmware/sign', s.tokens.rm, {
      keyId: 'key_none',
      firmware: toBase64(firmwareBytes(20)),
      version: '1.0.0',
    });
    assert.equal(unknown.status, 404);
  });
});
