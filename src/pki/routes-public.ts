/** Public PKI endpoints: CRLs, CA certificates (AIA caIssuers) and the OCSP responder (GET and POST). */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { NotFoundError } from '../core/errors.ts';
import { ocspError, OCSPResponseStatus } from './ocsp.ts';
import type { PkiService } from './service.ts';

const OCSP_MAX = 16 * 1024;
const CaParams = Type.Object(
  { caId: Type.String({ pattern: '^ca_[0-9a-v]{1,40}$' }) },
  { additionalProperties: false },
);

/** Mounts GET /crl/:caId.crl, GET /ca/:caId.crt, GET /ocsp/:request and POST /ocsp. */
export async function pkiPublicRoutes(app: FastifyInstance, deps: { pki: PkiService }): Promise<void> {
  const { pki } = deps;
  if (!app.hasContentTypeParser('application/ocsp-request')) {
    app.addContentTypeParser(
      'application/ocsp-request',
      { parseAs: 'buffer', bodyLimit: OCSP_MAX },
      (_req, body, done) => {
        done(null, body);
      },
    );
  }

  app.get(
    '/crl/:caId.crl',
    { config: { access: 'public' }, schema: { tags: ['pki'], params: CaParams } },
    async (request, reply) => {
      const { caId } = request.params as { caId: string };
      const crl = await pki.latestCrl(caId);
      return reply
        .type('application/pkix-crl')
        .header('cache-control', `public, max-age=${maxAge(crl.nextUpdate)}`)
        .send(Buffer.from(crl.der));
    },
  );

  app.get(
    '/ca/:caId.crt',
    { config: { access: 'public' }, schema: { tags: ['pki'], params: CaParams } },
    async (request, reply) => {
      const { caId } = request.params as { caId: string };
      const ca = await pki.getCaPublic(caId);
      return reply.type('application/pkix-cert').send(Buffer.from(ca.certificate));
    },
  );

  app.post(
    '/ocsp',
    { config: { access: 'public' }, bodyLimit: OCSP_MAX, schema: { tags: ['pki'] } },
    async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body)) return sendOcsp(reply, ocspError(OCSPResponseStatus.malformedRequest));
      return sendOcsp(reply, await pki.respondOcsp(new Uint8Array(body)));
    },
  );

  // RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.
  app.get('/ocsp/*', { config: { access: 'public' }, schema: { tags: ['pki'] } }, async (request, reply) => {
    const raw = (request.params as { '*': string })['*'];
    let der: Uint8Array | undefined;
    try {
      const b64 = decodeURIComponent(raw);
      if (b64.length <= (OCSP_MAX * 4) / 3 && /^[A-Za-z0-9+/]+={0,2}$/.test(b64))
        der = new Uint8Array(Buffer.from(b64, 'base64'));
    } catch {
      der = undefined;
    }
    if (der === undefined) return sendOcsp(reply, ocspError(OCSPResponseStatus.malformedRequest));
    return sendOcsp(reply, await pki.respondOcsp(der));
  });

  app.get('/ocsp', { config: { access: 'public' }, schema: { tags: ['pki'] } }, () => {
    throw new NotFoundError(
      'ERR_OCSP_REQUEST_MISSING',
      'append the base64 OCSP request to the URL or POST it',
    );
  });
}

function sendOcsp(reply: FastifyReply, der: Uint8Array): FastifyReply {
  return reply.type('application/ocsp-response').header('cache-control', 'no-store').send(Buffer.from(der));
}

function maxAge(nextUpdate: string): number {
  return Math.max(0, Math.floor((Date.parse(nextUpdate) - Date.now()) / 1000));
}
