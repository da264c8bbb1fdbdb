import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

it('docs/errors.md documents every error code used in src/', () => {
  const used = new Set<string>();
  for (const file of sources('src')) {
    for (const m of readFileSync(file, 'utf8').matchAll(/'(ERR_[A-Z0-9_]+)'/g)) used.add(m[1]!);
  }
  const documented = new Set(
    [...readFileSync('docs/errors.md', 'utf8').matchAll(/^\|\s*`?(ERR_[A-Z0-9_]+)`?\s*\|/gm)].map(
      (m) => m[1]!,
    ),
  );
  const missing = [...used].filter((c) => !documented.has(c)).sort();
  assert.ok(used.size > 40, 'the scan found the codes');
  assert.deepEqual(missing, [], `undocumented error codes: ${missing.join(', ')}`);
});
