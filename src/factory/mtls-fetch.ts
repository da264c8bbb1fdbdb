import { readBody, sendRequest } from '../core/https-client.ts';

/** The station's TLS client identity: its certificate chain and key (PEM), and the server CA. */
export interface StationTls {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

/**
 * A minimal `fetch` that presents the station certificate. Only what httpFactoryApi uses: method,
 * headers, string body, status and json().
 */
export function mtlsFetch(tls: StationTls | undefined): typeof fetch {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const res = await sendRequest(url, tls, {
      method: init?.method ?? 'GET',
      ...(init?.headers === undefined ? {} : { headers: init.headers as Record<string, string> }),
      ...(typeof init?.body === 'string' ? { body: init.body } : {}),
    });
    const status = res.statusCode ?? 500;
    const body = await readBody(res);
    return new Response(status === 204 ? null : new Uint8Array(body), { status });
  };
}
