import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A freshly initialised SoftHSM2 token in a temp dir. */
export interface SoftHsmToken {
  readonly module: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
  readonly dir: string;
  /** Removes the token directory (close every key store on it first). */
  cleanup(): void;
}

const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/** Path of the SoftHSM2 PKCS#11 module on this machine. */
export function softHsmModule(): string {
  const found = MODULE_CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) throw new Error('libsofthsm2.so not found: apt-get install -y softhsm2');
  return found;
}

/**
 * Creates a token with `softhsm2-util` in a new temp dir and points SOFTHSM2_CONF at its config.
 * SoftHSM reads the config when the module is initialised, so create the token before opening the
 * first key store of the process, or after every store on the module has been closed.
 */
export function createSoftHsmToken(label = `imprint-${randomBytes(4).toString('hex')}`): SoftHsmToken {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  process.env.SOFTHSM2_CONF = conf;
  const pin = randomBytes(6).toString('hex');
  const soPin = randomBytes(6).toString('hex');
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin],
    {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      stdio: 'pipe',
    },
  );
  return {
    module: softHsmModule(),
    tokenLabel: label,
    pin,
    soPin,
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
