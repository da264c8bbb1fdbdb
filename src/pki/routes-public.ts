/** Public PKI endpoints: CRLs, CA certificates (AIA caIssuers) and the OCSP responder (GET and POST). */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { NotFoundError } from '../core/errors.ts';
import { installFastOcsp } from './fast-ocsp.ts';
import { answerOcsp, OCSP_HEADERS, OCSP_MAX } from './ocsp-http.ts';
import type { PkiService } from './service.ts';

const CaParams = Type.Object(
  { caId: Type.String({ pattern: '^ca_[0-9a-v]{1,40}$' }) },
  { additionalProperties: false },
);

/**
 * Mounts GET /crl/:caId.crl, GET /ca/:caId.crt, GET /ocsp/:request and POST /ocsp; the two OCSP routes are
 * also served by fast routes in front of Fastify (fast-ocsp.ts) unless `fastPath: false` (tests compare).
 */
export async function pkiPublicRoutes(
  app: FastifyInstance,
  deps: { pki: PkiService },
  options: { fastPath?: boolean } = {},
): Promise<void> {
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
      const der = Buffer.isBuffer(body) ? new Uint8Array(body) : undefined;
      return sendOcsp(reply, await answerOcsp(pki, { method: 'POST', body: der }));
    },
  );

  // RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.
  app.get('/ocsp/*', { config: { access: 'public' }, schema: { tags: ['pki'] } }, async (request, reply) => {
    const param = (request.params as { '*': string })['*'];
    return sendOcsp(reply, await answerOcsp(pki, { method: 'GET', param }));
  });
  if (options.fastPath !== false) installFastOcsp(app, pki);

  app.get('/ocsp', { config: { access: 'public' }, schema: { tags: ['pki'] } }, () => {
    throw new NotFoundError(
      'ERR_OCSP_REQUEST_MISSING',
      'append the base64 OCSP request to the URL or POST it',
    );
  });
}

function sendOcsp(reply: FastifyReply, der: Uint8Array): FastifyReply {
  return reply.headers(OCSP_HEADERS).send(Buffer.from(der));
}

function maxAge(nextUpdate: string): number {
  return Math.max(0, Math.floor((Date.parse(nextUpdate) - Date.now()) / 1000));
}
