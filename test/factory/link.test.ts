import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cobsDecode, cobsEncode } from '../../src/factory/link/cobs.ts';
import { FRAME_KIND, FrameDecoder, encodeFrame } from '../../src/factory/link/frame.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { encodeRequest } from '../../src/factory/link/messages.ts';
import { openSerial } from '../../src/factory/link/transport.ts';
import { LinkError } from '../../src/factory/link/errors.ts';
import { hasCode } from '../../src/core/errors.ts';
import { ptyPair } from './helpers/pty.ts';
import { lossyBridge } from './helpers/lossy.ts';
import { memoryDevice, serveDevice } from './helpers/device.ts';
import { duplexPair as pipePair } from './helpers/duplex-pair.ts';

test('COBS round-trips any bytes and never emits 0x00', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1200 }), (data) => {
      const enc = cobsEncode(data);
      assert.ok(!enc.includes(0));
      assert.deepEqual(cobsDecode(enc), data);
    }),
  );
});

test('COBS at block boundaries: runs of 253–255 and 508–510 non-zero bytes, with and without zeros', () => {
  for (const len of [0, 1, 253, 254, 255, 508, 509, 510, 4096]) {
    for (const tail of [[], [0], [0, 0], [5, 0, 5]]) {
      const data = Uint8Array.from([...new Uint8Array(len).fill(7), ...tail]);
      const enc = cobsEncode(data);
      assert.ok(!enc.includes(0));
      assert.ok(enc.length <= data.length + Math.ceil(data.length / 254) + 1);
      assert.deepEqual(cobsDecode(enc), data, `${len} + ${tail.join(',')}`);
    }
  }
  assert.equal(cobsDecode(Uint8Array.of(3, 1, 0)), undefined, 'a zero inside a block');
  assert.equal(cobsDecode(Uint8Array.of(5, 1)), undefined, 'a block past the end');
});

test('frames: CRC, version and COBS faults are detected, good frames survive fragmentation', () => {
  const f = encodeFrame({ kind: FRAME_KIND.request, seq: 7, payload: new Uint8Array([0, 1, 0, 2]) });
  const dec = new FrameDecoder();
  const out = [...f].flatMap((b) => dec.push(new Uint8Array([b])));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], { kind: 1, seq: 7, payload: new Uint8Array([0, 1, 0, 2]) });
  const bad = Uint8Array.from(f);
  const at = bad.length - 3;
  bad[at] = bad[at] === 0x80 ? 0x81 : 0x80;
  const faults = new FrameDecoder().push(bad);
  assert.equal(faults.length, 1);
  assert.ok('fault' in faults[0]!);
  assert.deepEqual(new FrameDecoder().push(new Uint8Array([5, 1, 0])), [{ fault: 'cobs' }]);
  assert.deepEqual(new FrameDecoder().push(new Uint8Array(9000).fill(1)), [{ fault: 'oversize' }]);
});

test('a duplicate sequence number replays the last response without re-executing', async () => {
  const [a, b] = pipePair();
  let calls = 0;
  new LinkServer(b, (m) => {
    calls++;
    return Promise.resolve({ m, calls });
  });
  const frames: Uint8Array[] = [];
  const dec = new FrameDecoder();
  a.on('data', (c: Buffer) => dec.push(c).forEach((f) => 'payload' in f && frames.push(f.payload)));
  const req = encodeFrame({ kind: FRAME_KIND.request, seq: 42, payload: encodeRequest({ m: 'x', p: {} }) });
  a.write(req);
  await new Promise((r) => setTimeout(r, 30));
  a.write(req);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(calls, 1);
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0], frames[1]);
  a.destroy();
});

test('handshake and requests over a real socat pty pair at 115200 baud', async (t) => {
  const pty = await ptyPair();
  t.after(() => pty.close());
  const devPort = await openSerial(pty.b);
  const stPort = await openSerial(pty.a);
  const device = memoryDevice('sensor-1', 'SN-PTY-1');
  serveDevice(device, devPort);
  const link = new LinkClient(stPort, { timeoutMs: 1000 });
  const hello = await link.hello();
  assert.equal(hello.serial, 'SN-PTY-1');
  assert.equal(hello.version, 2);
  const { publicKey } = await link.request('identity.generate', {});
  assert.ok(publicKey instanceof Uint8Array);
  await assert.rejects(
    link.request('nope', {}),
    (e) => hasCode(e, 'ERR_AGENT_UNKNOWN_METHOD') && /SN-PTY-1/.test((e as Error).message),
  );
  link.close();
  devPort.destroy();
});

test('a lossy pty line (drops and corrupts bytes) still completes every request through retries', async (t) => {
  const p1 = await ptyPair();
  const p2 = await ptyPair();
  t.after(async () => {
    await p1.close();
    await p2.close();
  });
  const station = await openSerial(p1.a);
  const proxyA = await openSerial(p1.b);
  const proxyB = await openSerial(p2.a);
  const dev = await openSerial(p2.b);
  const stats = lossyBridge(proxyA, proxyB, { drop: 0.1, corrupt: 0.1, seed: 7 });
  const server = serveDevice(memoryDevice('m', 'SN-LOSSY'), dev);
  const link = new LinkClient(station, { timeoutMs: 150, retries: 20 });
  await link.hello();
  for (let i = 0; i < 30; i++) {
    const r = await link.request('status', {});
    assert.equal(r.serial, 'SN-LOSSY');
  }
  assert.ok(stats.faults > 0, 'the proxy injected faults');
  assert.ok(server.faults > 0 || stats.faults > 0);
  for (const s of [station, proxyA, proxyB, dev]) s.destroy();
});

test('timeout, garbage and disconnect errors name the device and the step', async () => {
  const [a, b] = pipePair();
  const silent = new LinkClient(a, { device: 'SN-SILENT', timeoutMs: 20, retries: 1 });
  await assert.rejects(silent.request('status', {}, 'read-id'), (e) => {
    assert.ok(e instanceof LinkError);
    assert.equal(e.code, 'ERR_LINK_TIMEOUT');
    assert.equal(e.device, 'SN-SILENT');
    assert.equal(e.step, 'read-id');
    return true;
  });
  b.on('data', () => b.write(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0])));
  await assert.rejects(
    silent.request('status', {}, 'csr'),
    (e) => hasCode(e, 'ERR_LINK_GARBAGE') && /SN-SILENT, step csr/.test((e as Error).message),
  );
  const [c, d] = pipePair();
  const dropping = new LinkClient(c, { device: 'SN-GONE', timeoutMs: 5000 });
  d.on('data', () => d.destroy());
  const pending = dropping.request('status', {}, 'fuses');
  c.destroy();
  await assert.rejects(
    pending,
    (e) => hasCode(e, 'ERR_LINK_DISCONNECTED') && (e as LinkError).step === 'fuses',
  );
  await assert.rejects(dropping.request('status', {}), (e) => hasCode(e, 'ERR_LINK_DISCONNECTED'));
  a.destroy();
});

test('link v2 batch: calls run in order in one frame, the first failure stops the rest and names its step', async () => {
  const [a, b] = pipePair();
  const ran: string[] = [];
  new LinkServer(b, (m, p) => {
    ran.push(m);
    if (m === 'fail') return Promise.reject(new LinkError('ERR_DEVICE_X', { device: 'd', step: 'x' }, 'no'));
    return Promise.resolve({ m, n: p.n ?? null });
  });
  const link = new LinkClient(a, { timeoutMs: 500 });
  await link.hello();
  assert.equal(link.version, 2);
  const before = link.bytesOut;
  const ok = await link.batch([
    { method: 'one', params: { n: 1 }, step: 's1' },
    { method: 'two', params: { n: 2 }, step: 's2' },
  ]);
  assert.deepEqual(ok, [
    { m: 'one', n: 1 },
    { m: 'two', n: 2 },
  ]);
  const frameBytes = link.bytesOut - before;
  await assert.rejects(
    link.batch([
      { method: 'three', params: {}, step: 's3' },
      { method: 'fail', params: {}, step: 's4' },
      { method: 'never', params: {}, step: 's5' },
    ]),
    (e) => e instanceof LinkError && e.code === 'ERR_DEVICE_X' && e.step === 's4',
  );
  assert.deepEqual(ran, ['hello', 'one', 'two', 'three', 'fail']);
  // Large calls are split over frames that each fit MAX_FRAME, still in order.
  const big = new Uint8Array(3000);
  const many = await link.batch(
    Array.from({ length: 6 }, (_, i) => ({ method: 'big', params: { n: i, big }, step: 'b' })),
  );
  assert.deepEqual(
    many.map((r) => r.n),
    [0, 1, 2, 3, 4, 5],
  );
  assert.ok(frameBytes < 100, 'two small calls went in one frame');
  a.destroy();
});

test('a batch frame is answered from the replay cache on a duplicate, and hello/batch cannot be nested', async () => {
  const [a, b] = pipePair();
  let calls = 0;
  new LinkServer(b, (m) => {
    calls++;
    return Promise.resolve({ m });
  });
  const frames: Uint8Array[] = [];
  const dec = new FrameDecoder();
  a.on('data', (c: Buffer) => dec.push(c).forEach((f) => 'payload' in f && frames.push(f.payload)));
  const batch = (seq: number, calls: unknown[]) =>
    encodeFrame({
      kind: FRAME_KIND.request,
      seq,
      payload: encodeRequest({ m: 'batch', p: { calls } }),
    });
  const req = batch(1, [
    { m: 'x', p: {} },
    { m: 'y', p: {} },
  ]);
  a.write(req);
  await new Promise((r) => setTimeout(r, 30));
  a.write(req);
  a.write(batch(2, [{ m: 'hello', p: {} }]));
  a.write(batch(3, [{ m: 'batch', p: { calls: [] } }]));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(calls, 2);
  assert.equal(frames.length, 4);
  assert.deepEqual(frames[0], frames[1]);
  assert.match(new TextDecoder().decode(frames[2]), /ERR_LINK_BAD_MESSAGE/);
  assert.match(new TextDecoder().decode(frames[3]), /ERR_LINK_BAD_MESSAGE/);
  a.destroy();
});
