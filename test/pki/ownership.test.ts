import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../src/core/errors.ts';
import { toPem } from '../../src/core/encoding.ts';
import type { Device } from '../../src/registry/types.ts';
import { createPki, makeCsr, openssl, opensslTry, write, type PkiFixture } from './helpers.ts';

/** Root + operational CA of a tenant as one PEM bundle file. */
async function operationalBundle(f: PkiFixture, tenantId: string, name: string): Promise<string> {
  const cas = await f.pki.listCas(tenantId);
  const root = cas.find((c) => c.role === 'root')!;
  const op = cas.find((c) => c.role === 'operational')!;
  return write(f.dir, name, toPem('CERTIFICATE', root.certificate) + toPem('CERTIFICATE', op.certificate));
}

describe('LDevID for devices sold to an owner tenant', () => {
  let f: PkiFixture;
  let ownerA: string;
  let ownerB: string;
  let device: Device;
  before(async () => {
    f = await createPki();
    ownerA = (await f.core.registry.createTenant(f.by, 'Owner A', 'owner')).id;
    ownerB = (await f.core.registry.createTenant(f.by, 'Owner B', 'owner')).id;
    await f.pki.initHierarchy(f.by, ownerA);
    await f.pki.initHierarchy(f.by, ownerB);
    device = (await f.core.registry.findDeviceBySerial(f.tenantId, 'SN0001'))!;
  });
  after(async () => {
    await f.close();
  });

  /** Moves the device to another tenant the way claims and SZTP bindings do. */
  async function transfer(to: string): Promise<void> {
    await f.core.store.transaction((tx) =>
      f.core.registry.updateDevice(tx, f.by, device.id, { tenantId: to }, 'device.transferred'),
    );
  }

  it('issues the LDevID from the owner CA after a sale and refuses it to the maker', async () => {
    await transfer(ownerA);
    const csr = makeCsr(f.dir, 'ld-a', '/serialNumber=SN0001');
    const out = await f.pki.issue(f.by, { tenantId: ownerA, profile: 'ldevid', csr: csr.csrPem });
    assert.equal(out.certificate.tenantId, ownerA);
    assert.equal(out.certificate.deviceId, device.id);
    const opA = (await f.pki.listCas(ownerA)).find((c) => c.role === 'operational')!;
    assert.equal(out.certificate.caId, opA.id);
    const leaf = write(f.dir, 'ld-a.pem', out.pem);
    const bundleA = await operationalBundle(f, ownerA, 'a-bundle.pem');
    assert.match(openssl(['verify', '-CAfile', bundleA, '-purpose', 'sslclient', leaf]), /: OK/);
    const text = openssl(['x509', '-in', leaf, '-noout', '-subject', '-issuer']);
    assert.match(text, /subject=O ?= ?Owner A, CN ?= ?SN0001, serialNumber ?= ?SN0001/);
    assert.match(text, /issuer=O ?= ?Owner A/);
    // The maker no longer owns the device: its operational CA must not vouch for it.
    const again = makeCsr(f.dir, 'ld-m', '/serialNumber=SN0001');
    await assert.rejects(
      f.pki.issue(f.by, { tenantId: f.tenantId, profile: 'ldevid', csr: again.csrPem }),
      (e) => hasCode(e, 'ERR_CSR_DEVICE_UNKNOWN'),
    );
    // The IDevID stays the maker's statement, issued by the maker's manufacturer CA.
    const id = makeCsr(f.dir, 'id', '/serialNumber=SN0001');
    const idevid = await f.pki.issue(f.by, { tenantId: f.tenantId, profile: 'idevid', csr: id.csrPem });
    assert.equal(idevid.certificate.tenantId, f.tenantId);
    await assert.rejects(
      f.pki.issue(f.by, {
        tenantId: ownerA,
        profile: 'idevid',
        csr: makeCsr(f.dir, 'id2', '/serialNumber=SN0001').csrPem,
      }),
      (e) => hasCode(e, 'ERR_CA_NOT_FOUND') || hasCode(e, 'ERR_CSR_DEVICE_UNKNOWN'),
    );
  });

  it('follows a resale: the next owner issues, the previous one is refused', async () => {
    await transfer(ownerB);
    const csr = makeCsr(f.dir, 'ld-b', '/serialNumber=SN0001');
    const out = await f.pki.issue(f.by, { tenantId: ownerB, profile: 'ldevid', csr: csr.csrPem });
    const leaf = write(f.dir, 'ld-b.pem', out.pem);
    assert.match(
      openssl(['verify', '-CAfile', await operationalBundle(f, ownerB, 'b-bundle.pem'), leaf]),
      /: OK/,
    );
    // Owner A's chain does not vouch for it.
    const bad = opensslTry(['verify', '-CAfile', await operationalBundle(f, ownerA, 'a2.pem'), leaf]);
    assert.notEqual(bad.code, 0);
  });

  it('refuses the previous owner and an unknown serial', async () => {
    const csr = makeCsr(f.dir, 'ld-a2', '/serialNumber=SN0001');
    await assert.rejects(f.pki.issue(f.by, { tenantId: ownerA, profile: 'ldevid', csr: csr.csrPem }), (e) =>
      hasCode(e, 'ERR_CSR_DEVICE_UNKNOWN'),
    );
    const unknown = makeCsr(f.dir, 'ld-x', '/serialNumber=NOPE');
    await assert.rejects(
      f.pki.issue(f.by, { tenantId: ownerB, profile: 'ldevid', csr: unknown.csrPem }),
      (e) => hasCode(e, 'ERR_CSR_DEVICE_UNKNOWN'),
    );
  });

  it('asks for the model when an owner holds the same serial from two makers', async () => {
    const other = await f.core.registry.createTenant(f.by, 'Other Maker', 'manufacturer');
    const model = await f.core.registry.createModel(f.by, other.id, 'gateway-9');
    const twin = await f.core.registry.createDevice(f.by, {
      manufacturerId: other.id,
      modelId: model.id,
      serial: 'SN0001',
    });
    await f.core.store.transaction((tx) =>
      f.core.registry.updateDevice(tx, f.by, twin.id, { tenantId: ownerB }, 'device.transferred'),
    );
    const csr = makeCsr(f.dir, 'ld-twin', '/serialNumber=SN0001');
    await assert.rejects(f.pki.issue(f.by, { tenantId: ownerB, profile: 'ldevid', csr: csr.csrPem }), (e) =>
      hasCode(e, 'ERR_CSR_DEVICE_AMBIGUOUS'),
    );
    const out = await f.pki.issue(f.by, {
      tenantId: ownerB,
      profile: 'ldevid',
      csr: csr.csrPem,
      model: 'gateway-9',
    });
    assert.equal(out.certificate.deviceId, twin.id);
  });
});
