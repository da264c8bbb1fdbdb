import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const dataDir = mkdtempSync(join(tmpdir(), 'imprint-cli-'));

function imprint(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', '--data-dir', dataDir, ...args],
    {
      encoding: 'utf8',
      env: { ...process.env, IMPRINT_KEK: '', IMPRINT_DATABASE_URL: '' },
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('imprint CLI', () => {
  let init: { adminToken: string; manufacturerId: string };
  before(() => {
    const r = imprint('--json', 'init', '--manufacturer', 'Acme', '--port', '18999');
    assert.equal(r.code, 0, r.stderr);
    init = JSON.parse(r.stdout) as typeof init;
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('init creates a 0600 KEK, a config and an admin token shown once', () => {
    assert.match(init.adminToken, /^tok_[0-9a-v]{20}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(join(dataDir, 'kek')).mode & 0o777, 0o600);
    const list = JSON.parse(imprint('--json', 'token', 'list').stdout) as { name: string; token?: string }[];
    assert.equal(list.length, 1);
    assert.equal(list[0]!.name, 'initial admin');
    assert.equal(list[0]!.token, undefined);
  });

  it('refuses a second init with a clear error and exit 1', () => {
    const r = imprint('init');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already holds an Imprint installation \(ERR_ALREADY_INITIALISED\)/);
  });

  it('creates models and devices and lists them as JSON and as a table', () => {
    assert.equal(imprint('model', 'create', 'sensor-9').code, 0);
    const dev = imprint('--json', 'device', 'register', 'SN-77', '--model', 'sensor-9');
    assert.equal(dev.code, 0, dev.stderr);
    const shown = JSON.parse(imprint('--json', 'device', 'show', 'SN-77').stdout) as {
      serial: string;
      state: string;
    };
    assert.equal(shown.serial, 'SN-77');
    assert.equal(shown.state, 'registered');
    const table = imprint('device', 'list');
    assert.match(table.stdout, /SN-77\s+registered/);
  });

  it('bad input exits non-zero with the error code and changes nothing', () => {
    const before = JSON.parse(imprint('--json', 'device', 'list').stdout) as unknown[];
    const r = imprint('device', 'register', 'bad serial!', '--model', 'sensor-9');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_DEVICE_SERIAL_INVALID/);
    assert.equal(imprint('device', 'register', 'SN-78', '--model', 'nope').code, 1);
    assert.equal(imprint('token', 'create', '--name', 'x', '--role', 'emperor').code, 1);
    assert.deepEqual(JSON.parse(imprint('--json', 'device', 'list').stdout), before);
  });

  it('a command on a directory with no installation says so', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', '--data-dir', join(dataDir, 'nope'), 'device', 'list'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ERR_NOT_INITIALISED/);
  });
});
