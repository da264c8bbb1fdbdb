/** The software secure element as an SZTP identity: stored IDevID chain, TLS client context, ECDH. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../../src/core/errors.ts';
import { toPem } from '../../src/core/encoding.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import type { SoftwareSecureElement } from '../../src/device/software-se.ts';
import { certForSpki, makeCert, pem, serverCert } from '../sztp/pki-helpers.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-se-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the element stores an IDevID chain only for its own key; a new key drops it; it persists', async (t) => {
  const path = join(tempDir(t), 'd.cbor');
  const d = SimulatedDevice.create(path, { model: 'sensor-1' });
  const se = d.secureElement;
  const ca = await makeCert('CN=IDevID CA', { ca: true });
  await assert.rejects(se.storeIdentityChain([ca.der]), (e) => hasCode(e, 'ERR_SE_NO_IDENTITY_KEY'));
  const spki = await se.generateIdentityKey();
  const other = await makeCert('CN=someone else', { issuer: ca });
  await assert.rejects(se.storeIdentityChain([other.der, ca.der]), (e) =>
    hasCode(e, 'ERR_SE_CERT_KEY_MISMATCH'),
  );
  await assert.rejects(se.storeIdentityChain([new Uint8Array([1, 2, 3])]), (e) =>
    hasCode(e, 'ERR_SE_CERT_KEY_MISMATCH'),
  );
  assert.deepEqual(await se.identityChain(), []);
  const leaf = await certForSpki('CN=SN-1', spki, ca);
  await se.storeIdentityChain([leaf, ca.der]);
  assert.deepEqual(await SimulatedDevice.open(path).secureElement.identityChain(), [leaf, ca.der]);
  await se.generateIdentityKey();
  assert.deepEqual(await se.identityChain(), [], 'a certificate for the old key is dropped');
});

test('the TLS context authenticates the device in mutual TLS, and ECDH agrees with the peer', async (t) => {
  const d = SimulatedDevice.create(join(tempDir(t), 'd.cbor'), { model: 'sensor-1' });
  const se = d.secureElement as SoftwareSecureElement;
  const ca = await makeCert('CN=IDevID CA', { ca: true });
  const spki = await se.generateIdentityKey();
  const leaf = await certForSpki('CN=SN-1', spki, ca);
  await se.storeIdentityChain([leaf, ca.der]);

  const tlsCa = await makeCert('CN=TLS CA', { ca: true });
  const srv = await serverCert(tlsCa);
  const server = createServer({
    key: srv.key.export({ type: 'pkcs8', format: 'pem' }),
    cert: pem(srv),
    ca: toPem('CERTIFICATE', ca.der),
    requestCert: true,
    rejectUnauthorized: true,
  });
  const peer = new Promise<Buffer>((resolve) =>
    server.once('secureConnection', (s: TLSSocket) => {
      resolve(Buffer.from(s.getPeerCertificate().raw));
      s.end();
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const secureContext = await se.identityTlsContext({ chain: [leaf, ca.der], ca: [tlsCa.der] });
  const socket = connect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    servername: 'localhost',
    secureContext,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve).once('error', reject);
  });
  assert.equal(socket.authorized, true, 'the device authenticated the server with the given anchors');
  assert.deepEqual(new Uint8Array(await peer), leaf, 'the server saw the IDevID');
  socket.destroy();

  const eph = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const z = await se.ecdh(new Uint8Array(eph.publicKey.export({ type: 'spki', format: 'der' })));
  const expected = diffieHellman({
    privateKey: eph.privateKey,
    publicKey: createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }),
  });
  assert.deepEqual(z, new Uint8Array(expected));
});
