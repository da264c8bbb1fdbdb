import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { ImprintError, UnavailableError } from '../core/errors.ts';
import { toHex } from '../core/encoding.ts';

/** A PKCS#11 object or slot handle as pkcs11js represents it. */
export type Handle = Buffer;
/** The loaded pkcs11js library object. */
export type Pkcs11 = pkcs11js.PKCS11;

/** What one PKCS#11 library holds for every store of this process that uses it. */
interface SharedModule {
  readonly lib: Pkcs11;
  refs: number;
  /** Per slot: how many stores are logged in, and a salted hash of the PIN they used. */
  readonly logins: Map<string, { refs: number; pinTag: Buffer }>;
}

// C_Initialize/C_Login are process-wide in PKCS#11, so stores on the same library share one instance.
const modules = new Map<string, SharedModule>();
const PIN_SALT = randomBytes(32);

/** The PKCS#11 return value of a pkcs11js error, if it carries one. */
export function ckr(e: unknown): number | undefined {
  return e instanceof pkcs11js.Pkcs11Error ? e.code : undefined;
}

/**
 * One logged-in read/write session on the token with a given label. pkcs11js/SoftHSM sessions are
 * not safe for concurrent use, so every operation goes through `run`, which serialises them.
 */
export class TokenSession {
  readonly #modulePath: string;
  readonly #shared: SharedModule;
  readonly #slotKey: string;
  readonly #session: Handle;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(modulePath: string, shared: SharedModule, slotKey: string, session: Handle) {
    this.#modulePath = modulePath;
    this.#shared = shared;
    this.#slotKey = slotKey;
    this.#session = session;
  }

  /**
   * Loads the module, finds the token by label (slot ids change) and logs in as the user.
   * Throws ERR_PKCS11_MODULE_LOAD_FAILED, ERR_PKCS11_TOKEN_NOT_FOUND, ERR_PKCS11_LOGIN_FAILED.
   */
  static open(modulePath: string, tokenLabel: string, pin: string): TokenSession {
    const shared = acquire(modulePath);
    let session: Handle | undefined;
    try {
      const slot = findSlot(shared.lib, tokenLabel);
      session = shared.lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      const slotKey = toHex(slot);
      login(shared, slotKey, session, pin, tokenLabel);
      return new TokenSession(modulePath, shared, slotKey, session);
    } catch (e) {
      if (session !== undefined) closeQuietly(() => shared.lib.C_CloseSession(session as Handle));
      release(modulePath, shared);
      if (e instanceof ImprintError) throw e;
      throw new UnavailableError('ERR_PKCS11_TOKEN_NOT_FOUND', `cannot open PKCS#11 token ${tokenLabel}`, {
        cause: e,
      });
    }
  }

  /** Runs `fn` with the library and session after every earlier operation. Throws ERR_PKCS11_CLOSED. */
  run<T>(fn: (lib: Pkcs11, session: Handle) => T | Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new UnavailableError('ERR_PKCS11_CLOSED', 'the PKCS#11 key store is closed'));
    }
    const next = this.#tail.then(() => fn(this.#shared.lib, this.#session));
    this.#tail = next.catch(() => undefined);
    return next;
  }

  /** Waits for pending operations, logs out (when last on this token) and finalizes (when last on the module). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tail;
    const { lib, logins } = this.#shared;
    const state = logins.get(this.#slotKey);
    if (state !== undefined && --state.refs === 0) {
      logins.delete(this.#slotKey);
      closeQuietly(() => lib.C_Logout(this.#session));
    }
    closeQuietly(() => lib.C_CloseSession(this.#session));
    release(this.#modulePath, this.#shared);
  }
}

function acquire(modulePath: string): SharedModule {
  let shared = modules.get(modulePath);
  if (shared === undefined) {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(modulePath);
    } catch (cause) {
      throw new UnavailableError(
        'ERR_PKCS11_MODULE_LOAD_FAILED',
        `cannot load PKCS#11 module ${modulePath}`,
        {
          cause,
        },
      );
    }
    try {
      lib.C_Initialize();
    } catch (cause) {
      if (ckr(cause) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        closeQuietly(() => lib.close());
        throw new UnavailableError(
          'ERR_PKCS11_MODULE_LOAD_FAILED',
          `cannot initialise PKCS#11 module ${modulePath}`,
          {
            cause,
          },
        );
      }
    }
    shared = { lib, refs: 0, logins: new Map() };
    modules.set(modulePath, shared);
  }
  shared.refs++;
  return shared;
}

function release(modulePath: string, shared: SharedModule): void {
  if (--shared.refs > 0) return;
  modules.delete(modulePath);
  closeQuietly(() => shared.lib.C_Finalize());
  closeQuietly(() => shared.lib.close());
}

function findSlot(lib: Pkcs11, tokenLabel: string): Handle {
  for (const slot of lib.C_GetSlotList(true)) {
    if (lib.C_GetTokenInfo(slot).label.trimEnd() === tokenLabel) return slot;
  }
  throw new UnavailableError('ERR_PKCS11_TOKEN_NOT_FOUND', `no PKCS#11 token labelled ${tokenLabel}`);
}

function login(
  shared: SharedModule,
  slotKey: string,
  session: Handle,
  pin: string,
  tokenLabel: string,
): void {
  const pinTag = createHash('sha256').update(PIN_SALT).update(pin, 'utf8').digest();
  const failed = (cause?: unknown) =>
    new UnavailableError('ERR_PKCS11_LOGIN_FAILED', `cannot log in to PKCS#11 token ${tokenLabel}`, {
      ...(cause === undefined ? {} : { cause }),
    });
  const existing = shared.logins.get(slotKey);
  if (existing !== undefined) {
    // The token is already logged in for this process; the PIN must still be the right one.
    if (!timingSafeEqual(existing.pinTag, pinTag)) throw failed();
    existing.refs++;
    return;
  }
  try {
    shared.lib.C_Login(session, pkcs11js.CKU_USER, pin);
  } catch (cause) {
    if (ckr(cause) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw failed(cause);
  }
  shared.logins.set(slotKey, { refs: 1, pinTag });
}

function closeQuietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // Best effort on shutdown: the token may already be gone.
  }
}
