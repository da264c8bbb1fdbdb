import { after, before, describe, it } from 'node:test';
import { createPki, type PkiFixture } from './helpers.ts';
import { judgeEverything } from './scenario.ts';

describe('PKI judged by openssl (software key store)', () => {
  let f: PkiFixture;
  before(async () => {
    f = await createPki();
  });
  after(async () => {
    await f.close();
  });

  it('issues every profile, publishes CRLs and answers OCSP good, revoked, unknown, unauthorized', async () => {
    await judgeEverything(f);
  });
});
