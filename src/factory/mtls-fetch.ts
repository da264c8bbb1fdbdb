import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The station's TLS client identity: its certificate chain and key (PEM), and the server CA. */
export interface StationTls {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

/**
 * A minimal `fetch` over node:https that presents the station certificate (Node 20's global fetch
 * cannot take a client certificate without undici). Only what httpFactoryApi uses: method, headers,
 * string body, status and json().
 */
export function mtlsFetch(tls: StationTls | undefined): typeof fetch {
  const f = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    new Promise((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        url,
        {
          method: init?.method ?? 'GET',
          headers: init?.headers as Record<string, string> | undefined,
          ...(tls === undefined || url.protocol !== 'https:'
            ? {}
            : { cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }) }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 500;
            resolve(new Response(status === 204 ? null : Buffer.concat(chunks), { status }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (typeof init?.body === 'string') req.write(init.body);
      req.end();
    });
  return f;
}
