/**
 * The OCSP responder's HTTP answer (RFC 6960 A.1), shared by the Fastify routes (routes-public.ts) and the
 * fast routes in front of them (fast-ocsp.ts), so both paths answer the same bytes with the same headers.
 */
import { ocspError, OCSPResponseStatus } from './ocsp.ts';
import type { PkiService } from './service.ts';

/** Largest OCSP request accepted, bytes (POST body limit; the GET form's base64 may be 4/3 of it). */
export const OCSP_MAX = 16 * 1024;

/** Headers of every OCSP answer (besides Content-Length): responses are per request, never cached. */
export const OCSP_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/ocsp-response',
  'cache-control': 'no-store',
};

/** What the route got: the POST body (undefined when it is not a buffer) or the GET path's last part. */
export type OcspHttpRequest =
  | { readonly method: 'POST'; readonly body: Uint8Array | undefined }
  | { readonly method: 'GET'; readonly param: string };

/**
 * The DER OCSP response for one HTTP request; bad input gets a malformedRequest OCSP response (status 200),
 * never an exception. `param` is the route parameter as the router decoded it; it is URL-decoded once more
 * (clients percent-encode the base64).
 */
export async function answerOcsp(pki: PkiService, request: OcspHttpRequest): Promise<Uint8Array> {
  const der = request.method === 'POST' ? request.body : fromBase64Param(request.param);
  if (der === undefined) return ocspError(OCSPResponseStatus.malformedRequest);
  return pki.respondOcsp(der);
}

function fromBase64Param(raw: string): Uint8Array | undefined {
  try {
    const b64 = decodeURIComponent(raw);
    if (b64.length <= (OCSP_MAX * 4) / 3 && /^[A-Za-z0-9+/]+={0,2}$/.test(b64))
      return new Uint8Array(Buffer.from(b64, 'base64'));
  } catch {
    // A malformed percent-encoding is a malformed request.
  }
  return undefined;
}
