import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LinkClient } from '../../src/factory/link/client.ts';
import { connectTcp } from '../../src/factory/link/transport.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';

const CHILD = join(import.meta.dirname, 'helpers', 'simulate-child.ts');

test('`device simulate` serves a line of persisted devices over TCP and stops on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-sim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CHILD,
      '--model',
      'sensor-1',
      '--count',
      '2',
      '--dir',
      dir,
      '--listen',
      '127.0.0.1:0',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  t.after(() => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).once('line', resolve),
  );
  const port = Number(/:(\d+)$/.exec(line)?.[1]);
  const serials: string[] = [];
  for (let i = 0; i < 2; i++) {
    const link = new LinkClient(await connectTcp('127.0.0.1', port));
    serials.push(String((await link.hello()).serial));
    link.close();
  }
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  const persisted = [0, 1].map((i) => SimulatedDevice.open(join(dir, `device-00000${i}.cbor`)).serial);
  assert.deepEqual(serials.sort(), persisted.sort());
});
