import { ImprintError, UnavailableError } from '../core/errors.ts';
import { fromBase64 } from '../core/encoding.ts';
import type { FactoryApi, StartResult } from './types.ts';
import { enc } from './wire.ts';

/** How the station reaches the server: base URL, extra headers, and a fetch (e.g. one with an mTLS dispatcher). */
export interface HttpFactoryOptions {
  readonly baseUrl: string;
  readonly headers?: Record<string, string>;
  readonly fetch?: typeof fetch;
}

/**
 * The FactoryApi over HTTP (routes of factoryRoutes). Server errors come back as ImprintErrors with the
 * server's code and status; an unreachable server is ERR_FACTORY_SERVER_UNAVAILABLE.
 */
export function httpFactoryApi(o: HttpFactoryOptions): FactoryApi {
  const f = o.fetch ?? fetch;
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await f(`${o.baseUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      throw new UnavailableError('ERR_FACTORY_SERVER_UNAVAILABLE', 'the Imprint server cannot be reached', {
        cause,
      });
    }
    if (res.status === 204) return undefined as T;
    const json = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    if (!res.ok) {
      throw new ImprintError(
        json.error?.code ?? 'ERR_FACTORY_SERVER_UNAVAILABLE',
        res.status,
        json.error?.message ?? `server answered ${res.status}`,
      );
    }
    return json as T;
  };
  const b = fromBase64;
  return {
    begin: (r) => call('POST', '/api/v1/factory/begin', r),
    async start(r) {
      const x = await call<{
        deviceId: string;
        state: StartResult['state'];
        identity?: { certificate: string; chain: string[]; config: string };
        sealed?: { enc: string; ciphertext: string };
      }>('POST', '/api/v1/factory/start', {
        ...r,
        publicKey: enc(r.publicKey),
        csr: enc(r.csr),
        transportPublicKey: enc(r.transportPublicKey),
        signature: enc(r.signature),
      });
      const { identity: i, sealed: s } = x;
      return {
        deviceId: x.deviceId,
        state: x.state,
        ...(i === undefined
          ? {}
          : { identity: { certificate: b(i.certificate), chain: i.chain.map(b), config: b(i.config) } }),
        ...(s === undefined ? {} : { sealed: { enc: b(s.enc), ciphertext: b(s.ciphertext) } }),
      };
    },
    async issue(r) {
      const x = await call<{ certificate: string; chain: string[]; config: string }>(
        'POST',
        '/api/v1/factory/issue',
        {
          ...r,
          publicKey: enc(r.publicKey),
          csr: enc(r.csr),
        },
      );
      return { certificate: b(x.certificate), chain: x.chain.map(b), config: b(x.config) };
    },
    async seal(r) {
      const x = await call<{ enc: string; ciphertext: string }>('POST', '/api/v1/factory/seal', {
        ...r,
        transportPublicKey: enc(r.transportPublicKey),
        signature: enc(r.signature),
      });
      return { enc: b(x.enc), ciphertext: b(x.ciphertext) };
    },
    async firmware(batchId) {
      const x = await call<{ version: string; image: string; signerPublicKey: string }>(
        'GET',
        `/api/v1/factory/batches/${encodeURIComponent(batchId)}/firmware`,
      );
      return {
        version: x.version,
        image: b(x.image),
        signerPublicKey: b(x.signerPublicKey),
      };
    },
    complete: (r) =>
      call('POST', '/api/v1/factory/complete', {
        ...r,
        readback: {
          ...r.readback,
          identityPublicKey: enc(r.readback.identityPublicKey),
          firmwareSha256: enc(r.readback.firmwareSha256),
          configSha256: enc(r.readback.configSha256),
          rotpkHash: enc(r.readback.rotpkHash),
        },
      }),
    abort: (r) => call('POST', '/api/v1/factory/abort', r),
  };
}
