import type { IncomingMessage } from 'node:http';
import { readBody, sendRequest, type ClientTls } from '../core/https-client.ts';
import { ImprintError } from '../core/errors.ts';
import type { Fetcher } from '../firmware/update-client.ts';

/** How the device reaches Imprint: the server CA (PEM) and, for mutual TLS, its identity context. */
export type DeviceTls = Pick<ClientTls, 'ca' | 'secureContext'>;

async function send(
  url: URL,
  tls: DeviceTls,
  init: { method: string; headers?: Record<string, string>; body?: string },
): Promise<IncomingMessage> {
  try {
    return await sendRequest(url, tls, init);
  } catch (cause) {
    throw new ImprintError('ERR_DEVICE_SERVER_UNREACHABLE', 502, `cannot reach ${url.origin}`, { cause });
  }
}

/** A TUF Fetcher over node:http(s) with the device's CA; stops reading one byte past the limit. */
export function deviceFetcher(tls: DeviceTls): Fetcher {
  return async (url, maxLength) => {
    const res = await send(new URL(url), tls, { method: 'GET' });
    if (res.statusCode === 404 || res.statusCode === 403) {
      res.resume();
      return undefined;
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw new ImprintError('ERR_TUF_FETCH_FAILED', 502, `GET ${url} answered ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (total > maxLength) {
        res.destroy();
        break;
      }
    }
    return new Uint8Array(Buffer.concat(chunks));
  };
}

/** Sends JSON (POST) or nothing (GET); returns the status and the parsed reply (undefined when not JSON). */
export async function requestJson(
  url: string,
  tls: DeviceTls,
  body?: unknown,
): Promise<{ status: number; reply: unknown }> {
  const res = await send(
    new URL(url),
    tls,
    body === undefined
      ? { method: 'GET' }
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  const text = (await readBody(res)).toString('utf8');
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    reply = undefined;
  }
  return { status: res.statusCode ?? 500, reply };
}
