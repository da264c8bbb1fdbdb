import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalize } from '@tufjs/canonical-json';
import { hasCode } from '../../src/core/errors.ts';
import { canonicalJson } from '../../src/firmware/tuf/canonical.ts';
import { pathMatches } from '../../src/firmware/tuf/verify.ts';

describe('TUF canonical JSON', () => {
  it('matches @tufjs/canonical-json on arbitrary JSON values (integers only)', () => {
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => canonicalJson(v) === canonicalize(v)),
      { numRuns: 300 },
    );
  });
  it('refuses non-integers', () => {
    assert.throws(
      () => canonicalJson({ a: 1.5 }),
      (e) => hasCode(e, 'ERR_TUF_NOT_CANONICAL'),
    );
  });
  it('matches delegation path patterns segment by segment', () => {
    assert.equal(pathMatches('mdl_1/*', 'mdl_1/firmware-1.0.0.bin'), true);
    assert.equal(pathMatches('mdl_1/*', 'mdl_2/firmware-1.0.0.bin'), false);
    assert.equal(pathMatches('mdl_1/*', 'mdl_1/a/b.bin'), false);
  });
});
