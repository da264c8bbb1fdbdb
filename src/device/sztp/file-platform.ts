/** A DevicePlatform on a directory (the CLI's and a Linux device's): images and configuration written atomically. */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { DevicePlatform, ScriptResult } from './platform.ts';

/**
 * Keeps `os.json`, `boot-image.bin` and `configuration` under `dir`. Scripts run with /bin/sh only when
 * `runScripts` is set (they come from the owner, verified, but still run as this user); otherwise they are
 * saved next to the configuration and reported as complete.
 */
export class FilePlatform implements DevicePlatform {
  readonly #dir: string;
  readonly #runScripts: boolean;
  constructor(dir: string, options: { runScripts?: boolean } = {}) {
    this.#dir = dir;
    this.#runScripts = options.runScripts === true;
    mkdirSync(dir, { recursive: true });
  }
  #write(name: string, data: Uint8Array | string): void {
    const tmp = join(this.#dir, `.${name}.tmp`);
    writeFileSync(tmp, data);
    renameSync(tmp, join(this.#dir, name));
  }
  currentOs(): { name: string; version: string } {
    const p = join(this.#dir, 'os.json');
    return existsSync(p)
      ? (JSON.parse(readFileSync(p, 'utf8')) as { name: string; version: string })
      : { name: 'unknown', version: '0' };
  }
  async download(uri: string): Promise<Uint8Array> {
    const res = await fetch(uri, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  installBootImage(
    image: Uint8Array,
    osName: string | undefined,
    osVersion: string | undefined,
  ): Promise<void> {
    const os = this.currentOs();
    this.#write('boot-image.bin', image);
    this.#write('os.json', JSON.stringify({ name: osName ?? os.name, version: osVersion ?? os.version }));
    return Promise.resolve();
  }
  runScript(phase: 'pre' | 'post', script: Uint8Array): Promise<ScriptResult> {
    const name = `${phase}-configuration-script`;
    this.#write(name, script);
    if (!this.#runScripts) return Promise.resolve({ ok: true });
    const path = join(this.#dir, name);
    chmodSync(path, 0o700);
    return new Promise((resolve) => {
      execFile('/bin/sh', [path], { cwd: this.#dir, timeout: 300_000 }, (err, _out, stderr) => {
        resolve(
          err === null ? { ok: true } : { ok: false, message: stderr.slice(0, 200) || 'script failed' },
        );
      });
    });
  }
  applyConfiguration(handling: 'merge' | 'replace', configuration: Uint8Array): Promise<void> {
    const p = join(this.#dir, 'configuration');
    const next =
      handling === 'merge' && existsSync(p)
        ? Buffer.concat([readFileSync(p), Buffer.from('\n'), configuration])
        : configuration;
    this.#write('configuration', next);
    return Promise.resolve();
  }
}
