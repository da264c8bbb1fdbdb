/** The device's RESTCONF client: one HTTPS POST per RPC, authenticated by the IDevID (mutual TLS). */
import { request, type RequestOptions } from 'node:https';
import type { SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { UnavailableError } from '../../core/errors.ts';
import type { Encoding } from '../../sztp/types.ts';
import type { DeviceIdentity, ServerRef } from './identity.ts';

/** An HTTP answer. */
export interface RpcResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const MEDIA: Record<Encoding, string> = {
  json: 'application/yang-data+json',
  xml: 'application/yang-data+xml',
};

/**
 * POSTs `body` to `/restconf/operations/ietf-sztp-bootstrap-server:<op>`. With `trusted` the server's
 * certificate must chain to the server's trust anchors and match its name; otherwise the connection is
 * provisional (RFC 8572 §5.4) and nothing it returns is trusted unless signed. Throws ERR_SZTP_SERVER_UNREACHABLE.
 */
export async function postRpc(
  server: ServerRef,
  identity: DeviceIdentity,
  op: string,
  body: string,
  encoding: Encoding,
  trusted: boolean,
  timeoutMs = 15_000,
): Promise<RpcResponse> {
  // The secure element builds the TLS context (its key never reaches this code); anchors go in with it.
  const secureContext = await identity.tlsContext(server.trustAnchors ?? []);
  return new Promise((resolve, reject) => {
    // `secureContext` reaches tls.connect through the agent; @types/node leaves it out of RequestOptions.
    const options: RequestOptions & { secureContext: SecureContext } = {
      host: server.address,
      port: server.port ?? 443,
      method: 'POST',
      path: `/restconf/operations/ietf-sztp-bootstrap-server:${op}`,
      ...(isIP(server.address) === 0 ? { servername: server.address } : {}),
      headers: {
        'content-type': MEDIA[encoding],
        accept: MEDIA[encoding],
        'content-length': Buffer.byteLength(body),
      },
      secureContext,
      rejectUnauthorized: trusted,
      agent: false,
      timeout: timeoutMs,
    };
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (cause) =>
      reject(
        new UnavailableError(
          'ERR_SZTP_SERVER_UNREACHABLE',
          `cannot reach ${server.address}:${server.port ?? 443}`,
          { cause },
        ),
      ),
    );
    req.end(body);
  });
}
