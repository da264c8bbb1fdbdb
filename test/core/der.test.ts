/** The shared strict DER reader and writer: round trips, and refusal of everything that is not DER. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { children, content, oidDer, oidText, readTlv, seq, tlv, whole } from '../../src/core/der.ts';

test('lengths are written minimally and read back, in every length form', () => {
  for (const n of [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000]) {
    const der = tlv(0x04, new Uint8Array(n).fill(7));
    const t = readTlv(der, 0, der.length, 0x04);
    assert.equal(t.end, der.length);
    assert.equal(content(der, t).length, n);
    assert.deepEqual(whole(der, t), der);
  }
  assert.deepEqual(tlv(0x04, new Uint8Array(0x80)).subarray(0, 2), Uint8Array.of(0x04, 0x81));
  assert.deepEqual(tlv(0x04, new Uint8Array(0x100)).subarray(0, 3), Uint8Array.of(0x04, 0x82, 0x01));
});

test('a SEQUENCE of parts is one TLV whose children are the parts', () => {
  const a = tlv(0x02, Uint8Array.of(1));
  const b = tlv(0x0c, new TextEncoder().encode('x'));
  const s = seq(a, b);
  const kids = children(s, readTlv(s, 0));
  assert.deepEqual(
    kids.map((k) => whole(s, k)),
    [a, b],
  );
});

test('non-DER input is refused with a RangeError', () => {
  const bad: [string, Uint8Array, number?][] = [
    ['truncated header', Uint8Array.of(0x30)],
    ['truncated content', Uint8Array.of(0x04, 0x03, 1, 2)],
    ['indefinite length', Uint8Array.of(0x30, 0x80, 0, 0)],
    ['non-minimal long form', Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5)],
    ['leading zero length byte', Uint8Array.of(0x04, 0x82, 0x00, 0x81, ...new Uint8Array(0x81))],
    ['multi-byte tag', Uint8Array.of(0x1f, 0x81, 0x01, 0x00)],
    ['another tag', Uint8Array.of(0x02, 0x01, 0x00), 0x30],
  ];
  for (const [name, der, tag] of bad) {
    assert.throws(() => readTlv(der, 0, der.length, tag), RangeError, name);
  }
  // A child running past its parent's end is refused even when the buffer goes on.
  const buffer = Uint8Array.of(0x30, 0x02, 0x04, 0x02, 0xaa, 0xbb);
  assert.throws(() => children(buffer, readTlv(buffer, 0)), RangeError);
});

test('object identifiers round-trip, including multi-byte arcs and the 2.x arcs above 39', () => {
  for (const oid of ['1.2.840.113549.1.9.16.1.40', '2.5.29.19', '1.3.6.1.4.1.311.21.7', '2.999.1']) {
    const der = oidDer(oid);
    assert.equal(der[0], 0x06);
    assert.equal(oidText(content(der, readTlv(der, 0))), oid);
  }
  assert.deepEqual(
    oidDer('1.2.840.10045.2.1'),
    Uint8Array.of(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01),
  );
  assert.throws(() => oidText(new Uint8Array(0)), RangeError);
  assert.throws(() => oidText(Uint8Array.of(0x2a, 0x86)), RangeError);
});
