import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openStore, type Store } from '../../src/store/database.ts';
import { contextCacheScenario } from './context-cache-scenario.ts';
import { makeWorld, type World } from './world.ts';

let w: World;
let other: Store;
before(async () => {
  w = await makeWorld();
  other = await openStore({ kind: 'sqlite', path: join(w.core.dir, 'imprint.db') }, { migrate: false });
});
after(async () => {
  await other.close();
  await w.close();
});

test('bootstrap contexts are cached until a change from any connection moves the generation (SQLite)', () =>
  contextCacheScenario(w, other));
