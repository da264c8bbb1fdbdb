import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, encode } from 'cbor2';
import { encodeCbor, type CborValue } from '../../src/factory/link/cbor-encode.ts';
import { decodeCbor } from '../../src/factory/link/cbor-decode.ts';

const value: fc.Arbitrary<CborValue> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.string(),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 4 }),
  ),
})).v as fc.Arbitrary<CborValue>;

test('the link CBOR encoder matches cbor2 byte for byte and decodes strictly', () => {
  fc.assert(
    fc.property(value, (v) => {
      const ours = encodeCbor(v);
      assert.deepEqual(ours, new Uint8Array(encode(v)));
      assert.deepEqual(decode(ours, { rejectDuplicateKeys: true }), decode(encode(v)));
    }),
  );
  assert.throws(() => encodeCbor(1.5), TypeError);
});

test('the strict link decoder agrees with cbor2 and refuses what the link never sends', () => {
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(decodeCbor(encodeCbor(v)), decode(encode(v)));
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      const v = decodeCbor(junk);
      if (v !== undefined)
        assert.deepEqual(encodeCbor(v), junk.length === encodeCbor(v).length ? junk : encodeCbor(v));
    }),
  );
  for (const bad of [
    [0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02], // duplicate key
    [0xa1, 0x01, 0x01], // integer key
    [0x9f, 0xff], // indefinite array
    [0xc0, 0x00], // tag
    [0xfb, 0, 0, 0, 0, 0, 0, 0, 0], // float
    [0x01, 0x02], // trailing bytes
    [0x5a, 0xff, 0xff, 0xff, 0xff], // length past the end
  ]) {
    assert.equal(decodeCbor(Uint8Array.from(bad)), undefined, JSON.stringify(bad));
  }
});

test('a "__proto__" key decodes as data, never as the prototype, and a duplicate of it is refused', () => {
  const enc = encodeCbor({ ['__proto__']: 1, a: 'ä-non-ascii' });
  const v = decodeCbor(enc) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ['__proto__', 'a']);
  assert.equal(v.a, 'ä-non-ascii');
  const dup = Uint8Array.from([
    0xa2,
    0x69,
    ...new TextEncoder().encode('__proto__'),
    0x01,
    0x69,
    ...new TextEncoder().encode('__proto__'),
    0x02,
  ]);
  assert.equal(decodeCbor(dup), undefined);
});
