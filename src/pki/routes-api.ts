/** Operator API for the PKI under /api/v1: CAs (list, show, issue, revoke, CRL, OCSP signer renewal) and certificates (list, show). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { toPem } from '../core/encoding.ts';
import { requirePrincipal } from '../server/principal.ts';
import type { PkiService } from './service.ts';
import { PROFILE_NAMES, REVOCATION_REASONS, type CaRecord, type CertificateRecord } from './types.ts';

const READERS = { roles: ['admin', 'operator', 'auditor'] } as const;
const WRITERS = { roles: ['admin', 'operator'] } as const;
const IdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
const Str = Type.String();
const Nullable = (t: ReturnType<typeof Type.String>) => Type.Union([t, Type.Null()]);

const CaBody = Type.Object({
  id: Str,
  tenantId: Str,
  name: Str,
  role: Str,
  state: Str,
  keyAlgorithm: Str,
  subject: Str,
  serialHex: Str,
  notBefore: Str,
  notAfter: Str,
  parentId: Nullable(Str),
  crlNumber: Type.Number(),
  nextCrlAt: Nullable(Str),
  createdAt: Str,
  certificatePem: Str,
});
const CertBody = Type.Object({
  id: Str,
  tenantId: Str,
  caId: Nullable(Str),
  deviceId: Nullable(Str),
  profile: Str,
  serialHex: Str,
  subject: Str,
  issuer: Str,
  notBefore: Str,
  notAfter: Str,
  spkiSha256: Str,
  status: Str,
  revokedAt: Nullable(Str),
  revocationReason: Type.Union([Type.Number(), Type.Null()]),
  createdAt: Str,
  pem: Str,
});
const CrlBody = Type.Object({ caId: Str, number: Type.Number(), thisUpdate: Str, nextUpdate: Str, pem: Str });
const IssueBody = Type.Object(
  {
    csr: Type.String({ minLength: 1, maxLength: 64 * 1024 }),
    profile: Type.Union(PROFILE_NAMES.map((p) => Type.Literal(p))),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    hwType: Type.Optional(Type.String({ minLength: 3, maxLength: 128 })),
    noExpiry: Type.Optional(Type.Boolean()),
    validityDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36500 })),
  },
  { additionalProperties: false },
);
const RevokeBody = Type.Object(
  {
    serial: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    certificateId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    reason: Type.Union([
      ...Object.keys(REVOCATION_REASONS).map((r) => Type.Literal(r)),
      Type.Integer({ minimum: 0, maximum: 10 }),
    ]),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  {
    caId: Type.Optional(Str),
    deviceId: Type.Optional(Str),
    status: Type.Optional(Type.Union([Type.Literal('good'), Type.Literal('revoked')])),
    profile: Type.Optional(Str),
    after: Type.Optional(Str),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

/** JSON view of a CA. */
export function caJson(ca: CaRecord) {
  return {
    id: ca.id,
    tenantId: ca.tenantId,
    name: ca.name,
    role: ca.role,
    state: ca.state,
    keyAlgorithm: ca.keyAlgorithm,
    subject: ca.subject,
    serialHex: ca.serialHex,
    notBefore: ca.notBefore,
    notAfter: ca.notAfter,
    parentId: ca.parentId,
    crlNumber: ca.crlNumber,
    nextCrlAt: ca.nextCrlAt,
    createdAt: ca.createdAt,
    certificatePem: toPem('CERTIFICATE', ca.certificate),
  };
}

/** JSON view of a certificate. */
export function certJson(c: CertificateRecord) {
  const { der, ...rest } = c;
  return { ...rest, pem: toPem('CERTIFICATE', der) };
}

/** Mounts the operator PKI API. */
export async function pkiApiRoutes(app: FastifyInstance, deps: { pki: PkiService }): Promise<void> {
  const { pki } = deps;

  app.get(
    '/api/v1/cas',
    { config: { access: READERS }, schema: { tags: ['pki'], response: { 200: Type.Array(CaBody) } } },
    async (request) => (await pki.listCas(requirePrincipal(request).tenantId)).map(caJson),
  );

  app.get(
    '/api/v1/cas/:id',
    {
      config: { access: READERS },
      schema: {
        tags: ['pki'],
        params: IdParams,
        response: { 200: Type.Object({ ...CaBody.properties, chainPem: Str }) },
      },
    },
    async (request) => {
      const p = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const chain = await pki.chain(p.tenantId, id);
      return {
        ...caJson(chain[0]!),
        chainPem: chain.map((c) => toPem('CERTIFICATE', c.certificate)).join(''),
      };
    },
  );

  app.post(
    '/api/v1/cas/:id/issue',
    {
      config: { access: WRITERS },
      schema: {
        tags: ['pki'],
        params: IdParams,
        body: IssueBody,
        response: { 201: Type.Object({ certificate: CertBody, chainPem: Str }) },
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const b = request.body as {
        csr: string;
        profile: string;
        model?: string;
        hwType?: string;
        noExpiry?: boolean;
        validityDays?: number;
      };
      const out = await pki.issue(p, {
        tenantId: p.tenantId,
        caId: id,
        csr: b.csr,
        profile: b.profile,
        ...(b.model === undefined ? {} : { model: b.model }),
        ...(b.hwType === undefined ? {} : { hwType: b.hwType }),
        ...(b.noExpiry === undefined ? {} : { noExpiry: b.noExpiry }),
        ...(b.validityDays === undefined ? {} : { validityDays: b.validityDays }),
      });
      return reply.code(201).send({ certificate: certJson(out.certificate), chainPem: out.chainPem });
    },
  );

  app.post(
    '/api/v1/cas/:id/revoke',
    {
      config: { access: WRITERS },
      schema: {
        tags: ['pki'],
        params: IdParams,
        body: RevokeBody,
        response: {
          200: Type.Object({ certificate: CertBody, crlNumber: Type.Union([Type.Number(), Type.Null()]) }),
        },
      },
    },
    async (request) => {
      const p = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const b = request.body as { serial?: string; certificateId?: string; reason: string | number };
      const out = await pki.revoke(p, {
        tenantId: p.tenantId,
        caId: id,
        reason: b.reason,
        ...(b.serial === undefined ? {} : { serial: b.serial }),
        ...(b.certificateId === undefined ? {} : { certificateId: b.certificateId }),
      });
      return { certificate: certJson(out.certificate), crlNumber: out.crl?.number ?? null };
    },
  );

  app.get(
    '/api/v1/cas/:id/crl',
    { config: { access: READERS }, schema: { tags: ['pki'], params: IdParams, response: { 200: CrlBody } } },
    async (request) => {
      const p = requirePrincipal(request);
      const { id } = request.params as { id: string };
      await pki.getCa(p.tenantId, id);
      const crl = await pki.latestCrl(id);
      return {
        caId: crl.caId,
        number: crl.number,
        thisUpdate: crl.thisUpdate,
        nextUpdate: crl.nextUpdate,
        pem: toPem('X509 CRL', crl.der),
      };
    },
  );

  app.post(
    '/api/v1/cas/:id/crl',
    { config: { access: WRITERS }, schema: { tags: ['pki'], params: IdParams, response: { 201: CrlBody } } },
    async (request, reply) => {
      const p = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const crl = await pki.publishCrl(p, p.tenantId, id);
      return reply.code(201).send({
        caId: crl.caId,
        number: crl.number,
        thisUpdate: crl.thisUpdate,
        nextUpdate: crl.nextUpdate,
        pem: toPem('X509 CRL', crl.der),
      });
    },
  );

  app.post(
    '/api/v1/cas/:id/ocsp-signer/renew',
    {
      config: { access: WRITERS },
      schema: {
        tags: ['pki'],
        params: IdParams,
        response: {
          201: Type.Object({ caId: Str, certificate: CertBody, previousCertificateId: Nullable(Str) }),
        },
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const out = await pki.renewOcspSigner(p, p.tenantId, id);
      return reply.code(201).send({
        caId: out.caId,
        certificate: certJson(out.certificate),
        previousCertificateId: out.previousCertificateId,
      });
    },
  );

  app.get(
    '/api/v1/certificates',
    {
      config: { access: READERS },
      schema: { tags: ['pki'], querystring: ListQuery, response: { 200: Type.Array(CertBody) } },
    },
    async (request) => {
      const p = requirePrincipal(request);
      const q = request.query as {
        caId?: string;
        deviceId?: string;
        status?: 'good' | 'revoked';
        profile?: string;
        after?: string;
        limit?: number;
      };
      return (await pki.listCertificates(p.tenantId, q)).map(certJson);
    },
  );

  app.get(
    '/api/v1/certificates/:id',
    { config: { access: READERS }, schema: { tags: ['pki'], params: IdParams, response: { 200: CertBody } } },
    async (request) => {
      const p = requirePrincipal(request);
      const { id } = request.params as { id: string };
      return certJson(await pki.getCertificate(p.tenantId, id));
    },
  );
}
