import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromHex, toHex } from '../../src/core/encoding.ts';
import { EMPTY_ROOT, frontierAppend, frontierRoot, leafHash, nodeHash } from '../../src/audit/merkle.ts';
import {
  consistencyProof,
  inclusionProof,
  subtreeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/proof.ts';

// Test vectors copied from github.com/transparency-dev/merkle proof/verify_test.go (RFC 6962 / 9162 hashing).
const LEAF_DATA = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
// [leaf (1-based, as in the source), tree size, proof]
const INCLUSION: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [3, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    2,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
const CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];

const LEAVES = LEAF_DATA.map((d) => leafHash(fromHex(d)));
const h = (s: string) => fromHex(s);
const SOME_HASH = h('abacaba000000000000000000000000000000000000000000060061e00123456');

/** The RFC's recursive MTH, written independently of the code under test. */
function naiveMth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return new Uint8Array(createHash('sha256').digest());
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  const l = naiveMth(leaves.slice(0, k));
  const r = naiveMth(leaves.slice(k));
  return new Uint8Array(createHash('sha256').update(Buffer.of(1)).update(l).update(r).digest());
}

function flip(proof: Uint8Array[], i: number): Uint8Array[] {
  return proof.map((p, j) => (j === i ? Uint8Array.from(p, (b, k) => (k === 0 ? b ^ 8 : b)) : p));
}

describe('RFC 9162 hashing', () => {
  it('matches the published roots for trees of 1 to 8 leaves', () => {
    for (let n = 1; n <= 8; n++) {
      assert.equal(toHex(subtreeHash(LEAVES, 0, n)), ROOTS[n - 1]);
      let f: Uint8Array[] = [];
      for (let i = 0; i < n; i++) f = frontierAppend(f, i, LEAVES[i]!);
      assert.equal(toHex(frontierRoot(f)), ROOTS[n - 1], `frontier root of ${n}`);
    }
  });

  it('hashes the empty tree and nodes as the RFC says', () => {
    assert.equal(toHex(EMPTY_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(toHex(frontierRoot([])), toHex(EMPTY_ROOT));
    assert.equal(toHex(nodeHash(LEAVES[0]!, LEAVES[1]!)), ROOTS[1]);
  });
});

describe('inclusion proofs (published vectors)', () => {
  for (const [leaf, size, proofHex] of INCLUSION) {
    it(`leaf ${leaf - 1} in a tree of ${size}`, () => {
      const proof = proofHex.map(h);
      assert.deepEqual(inclusionProof(LEAVES, leaf - 1, size).map(toHex), proofHex);
      const root = h(ROOTS[size - 1]!);
      const lh = LEAVES[leaf - 1]!;
      assert.ok(verifyInclusion(lh, leaf - 1, size, proof, root));
      // Corrupted probes from the same source file must all fail.
      assert.ok(!verifyInclusion(lh, leaf - 2, size, proof, root));
      assert.ok(!verifyInclusion(lh, leaf, size, proof, root));
      assert.ok(!verifyInclusion(lh, (leaf - 1) ^ 2, size, proof, root));
      assert.ok(!verifyInclusion(lh, leaf - 1, size * 2, proof, root));
      assert.ok(!verifyInclusion(lh, leaf - 1, Math.floor(size / 2), proof, root));
      assert.ok(!verifyInclusion(new TextEncoder().encode('WrongLeaf'), leaf - 1, size, proof, root));
      assert.ok(!verifyInclusion(lh, leaf - 1, size, proof, EMPTY_ROOT));
      assert.ok(!verifyInclusion(lh, leaf - 1, size, proof, SOME_HASH));
      assert.ok(!verifyInclusion(lh, leaf - 1, size, [...proof, new Uint8Array()], root));
      assert.ok(!verifyInclusion(lh, leaf - 1, size, [...proof, root], root));
      assert.ok(!verifyInclusion(lh, leaf - 1, size, [new Uint8Array(), ...proof], root));
      assert.ok(!verifyInclusion(lh, leaf - 1, size, [root, ...proof], root));
      for (let i = 0; i < proof.length; i++)
        assert.ok(!verifyInclusion(lh, leaf - 1, size, flip(proof, i), root));
      if (proof.length > 0) assert.ok(!verifyInclusion(lh, leaf - 1, size, proof.slice(0, -1), root));
      if (proof.length > 1) {
        assert.ok(!verifyInclusion(lh, leaf - 1, size, [proof[0]!, SOME_HASH, ...proof.slice(1)], root));
      }
    });
  }

  it('refuses impossible positions', () => {
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [2, 1],
    ] as const) {
      assert.ok(!verifyInclusion(SOME_HASH, index, size, [], EMPTY_ROOT));
    }
    assert.throws(() => inclusionProof(LEAVES, 8, 8), RangeError);
    assert.throws(() => inclusionProof(LEAVES, 0, 9), RangeError);
  });
});

describe('consistency proofs (published vectors)', () => {
  for (const [first, second, proofHex] of CONSISTENCY) {
    it(`from ${first} to ${second}`, () => {
      const proof = proofHex.map(h);
      assert.deepEqual(consistencyProof(LEAVES, first, second).map(toHex), proofHex);
      const r1 = h(ROOTS[first - 1]!);
      const r2 = h(ROOTS[second - 1]!);
      assert.ok(verifyConsistency(first, second, proof, r1, r2));
      if (proof.length === 0) return;
      const bad: [number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
        [first - 1, second, r1, r2, proof],
        [first + 1, second, r1, r2, proof],
        [first ^ 2, second, r1, r2, proof],
        [first, second * 2, r1, r2, proof],
        [first, Math.floor(second / 2), r1, r2, proof],
        [first, second, SOME_HASH, r2, proof],
        [first, second, r1, SOME_HASH, proof],
        [first, second, r2, r1, proof],
        [first, second, r1, r2, []],
        [first, second, r1, r2, [...proof, new Uint8Array()]],
        [first, second, r1, r2, [...proof, r1]],
        [first, second, r1, r2, [...proof, r2]],
        [first, second, r1, r2, [new Uint8Array(), ...proof]],
        [first, second, r1, r2, [r1, ...proof]],
        [first, second, r1, r2, [r2, ...proof]],
        [first, second, r1, r2, [proof[0]!, ...proof]],
        [first, second, r1, r2, proof.slice(0, -1)],
        ...proof.map(
          (_, i) =>
            [first, second, r1, r2, flip(proof, i)] as [number, number, Uint8Array, Uint8Array, Uint8Array[]],
        ),
      ];
      for (const [a, b, ra, rb, p] of bad)
        assert.ok(!verifyConsistency(a, b, p, ra, rb), `accepted ${a}->${b}`);
    });
  }

  it('handles the edge sizes', () => {
    const r1 = SOME_HASH;
    const r2 = EMPTY_ROOT;
    assert.ok(!verifyConsistency(0, 0, [], r1, r2));
    assert.ok(!verifyConsistency(1, 1, [], r1, r2));
    assert.ok(verifyConsistency(0, 0, [], r1, r1));
    assert.ok(verifyConsistency(0, 1, [], r1, r2));
    assert.ok(verifyConsistency(1, 1, [], r2, r2));
    assert.ok(!verifyConsistency(1, 0, [], r1, r2));
    assert.ok(!verifyConsistency(2, 1, [], r1, r2));
    assert.ok(!verifyConsistency(1, 2, [], r1, r2));
    assert.ok(!verifyConsistency(0, 0, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT));
    assert.ok(!verifyConsistency(0, 1, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT));
    assert.ok(!verifyConsistency(1, 1, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT));
    assert.throws(() => consistencyProof(LEAVES, 3, 2), RangeError);
  });
});

describe('exhaustive small trees against the naive MTH', () => {
  const N = 40;
  const leaves = Array.from({ length: N }, (_, i) => leafHash(new TextEncoder().encode(`entry ${i}`)));
  const roots = Array.from({ length: N + 1 }, (_, n) => naiveMth(leaves.slice(0, n)));

  it('frontier roots equal the MTH at every size', () => {
    let f: Uint8Array[] = [];
    for (let n = 0; n <= N; n++) {
      assert.deepEqual(frontierRoot(f), roots[n], `size ${n}`);
      if (n < N) f = frontierAppend(f, n, leaves[n]!);
    }
  });

  it('every inclusion proof verifies, and not at another index', () => {
    for (let n = 1; n <= N; n++) {
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(leaves, m, n);
        assert.ok(verifyInclusion(leaves[m]!, m, n, proof, roots[n]!), `${m} in ${n}`);
        if (n > 1) assert.ok(!verifyInclusion(leaves[m]!, (m + 1) % n, n, proof, roots[n]!));
        assert.ok(!verifyInclusion(leaves[(m + 1) % N]!, m, n, proof, roots[n]!));
      }
    }
  });

  it('every consistency proof verifies, and not against another root', () => {
    for (let n = 1; n <= N; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(leaves, m, n);
        assert.ok(verifyConsistency(m, n, proof, roots[m]!, roots[n]!), `${m} -> ${n}`);
        if (m > 0 && m < n) {
          assert.ok(!verifyConsistency(m, n, proof, roots[m - 1]!, roots[n]!));
          assert.ok(!verifyConsistency(m, n, proof, roots[m]!, roots[n - 1]!));
        }
      }
    }
  });
});
