/** The device-side effects of onboarding: boot image download and install, scripts, atomic configuration. */
import { ImprintError } from '../../core/errors.ts';

/** Result of running a pre- or post-configuration script. */
export interface ScriptResult {
  readonly ok: boolean;
  readonly warning?: string;
  readonly message?: string;
}

/** What the agent asks the device to do; each call either completes or throws and changes nothing. */
export interface DevicePlatform {
  /** The running OS name and version. */
  currentOs(): { name: string; version: string };
  /** Downloads a boot image (any URI scheme the platform supports). */
  download(uri: string): Promise<Uint8Array>;
  /** Installs a verified boot image. */
  installBootImage(
    image: Uint8Array,
    osName: string | undefined,
    osVersion: string | undefined,
  ): Promise<void>;
  runScript(phase: 'pre' | 'post', script: Uint8Array): Promise<ScriptResult>;
  /** Commits the configuration atomically (merge or replace). */
  applyConfiguration(handling: 'merge' | 'replace', configuration: Uint8Array): Promise<void>;
}

/**
 * An in-memory platform: images and configuration are kept in fields, downloads go through `fetch`, scripts
 * are handed to `run` (default: succeed). Used by the simulator and tests.
 */
export class MemoryPlatform implements DevicePlatform {
  os: { name: string; version: string };
  bootImage: Uint8Array | undefined;
  configuration: Uint8Array | undefined;
  readonly scripts: { phase: 'pre' | 'post'; script: Uint8Array }[] = [];
  readonly #fetch: (uri: string) => Promise<Uint8Array>;
  readonly #run: (phase: 'pre' | 'post', script: Uint8Array) => ScriptResult;

  constructor(
    options: {
      os?: { name: string; version: string };
      fetch?: (uri: string) => Promise<Uint8Array>;
      run?: (phase: 'pre' | 'post', s: Uint8Array) => ScriptResult;
    } = {},
  ) {
    this.os = options.os ?? { name: 'factory-os', version: '0' };
    this.#fetch = options.fetch ?? (async (uri) => new Uint8Array(await (await fetch(uri)).arrayBuffer()));
    this.#run = options.run ?? (() => ({ ok: true }));
  }
  currentOs() {
    return this.os;
  }
  download(uri: string) {
    return this.#fetch(uri);
  }
  installBootImage(
    image: Uint8Array,
    osName: string | undefined,
    osVersion: string | undefined,
  ): Promise<void> {
    this.bootImage = image;
    this.os = { name: osName ?? this.os.name, version: osVersion ?? this.os.version };
    return Promise.resolve();
  }
  runScript(phase: 'pre' | 'post', script: Uint8Array): Promise<ScriptResult> {
    this.scripts.push({ phase, script });
    return Promise.resolve(this.#run(phase, script));
  }
  applyConfiguration(handling: 'merge' | 'replace', configuration: Uint8Array): Promise<void> {
    if (configuration.length === 0)
      throw new ImprintError('ERR_SZTP_CONFIG_REJECTED', 400, 'empty configuration');
    this.configuration =
      handling === 'replace' || this.configuration === undefined
        ? configuration
        : new Uint8Array([...this.configuration, 0x0a, ...configuration]);
    return Promise.resolve();
  }
}
