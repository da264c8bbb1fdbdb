import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SecureContext } from 'node:tls';

/** A client's TLS settings: the server CA, and for mutual TLS a certificate and key or a ready context. */
export interface ClientTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** A context that already holds the client identity (a secure element's), used instead of cert/key/ca. */
  readonly secureContext?: SecureContext;
}

/**
 * One request over node:http(s) (Node 20's global fetch cannot take a client certificate without undici);
 * resolves with the response as a stream. TLS settings apply to https: URLs only.
 */
export function sendRequest(
  url: URL,
  tls: ClientTls | undefined,
  init: { method: string; headers?: Record<string, string>; body?: string },
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const options =
      !https || tls === undefined
        ? {}
        : tls.secureContext !== undefined
          ? { secureContext: tls.secureContext }
          : {
              ...(tls.ca === undefined ? {} : { ca: tls.ca }),
              ...(tls.cert === undefined ? {} : { cert: tls.cert }),
              ...(tls.key === undefined ? {} : { key: tls.key }),
            };
    const req = (https ? httpsRequest : httpRequest)(
      url,
      { method: init.method, ...(init.headers === undefined ? {} : { headers: init.headers }), ...options },
      resolve,
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The whole response body. */
export async function readBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
