import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AuditService } from '../../audit/service.ts';
import type { StoredAuditEntry } from '../../audit/reader.ts';
import type { TreeHead } from '../../audit/heads.ts';
import { toBase64, toPem } from '../../core/encoding.ts';
import { NotFoundError } from '../../core/errors.ts';
import type { RegistryService } from '../../registry/service.ts';
import { requirePrincipal } from '../principal.ts';
import { errorResponses } from './schemas.ts';

const AUDITORS = { roles: ['admin', 'auditor'] } as const;

const EntryBody = Type.Object({
  seq: Type.Integer(),
  time: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  subject: Type.String(),
  tenantId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  leafHash: Type.String({ description: 'base64 RFC 9162 leaf hash' }),
});
const HeadBody = Type.Object({
  treeSize: Type.Integer(),
  rootHash: Type.String({ description: 'base64' }),
  timestamp: Type.String(),
  note: Type.String({ description: 'C2SP checkpoint as a signed note' }),
});

const entryJson = (e: StoredAuditEntry) => ({ ...e, leafHash: toBase64(e.leafHash) });
const headJson = (h: TreeHead) => ({
  treeSize: h.treeSize,
  rootHash: toBase64(h.rootHash),
  timestamp: h.timestamp,
  note: h.note,
});

/**
 * Read access to the audit log for admins and auditors: entries (an owner tenant sees only its own),
 * signed tree heads, inclusion and consistency proofs, and the audit public key for offline checks.
 */
export async function auditRoutes(
  app: FastifyInstance,
  deps: { audit: AuditService; registry: RegistryService },
): Promise<void> {
  const scopeOf = async (tenantId: string) =>
    (await deps.registry.getTenant(tenantId)).kind === 'manufacturer' ? undefined : tenantId;

  app.get(
    '/api/v1/audit/entries',
    {
      config: { access: AUDITORS },
      schema: {
        tags: ['audit'],
        querystring: Type.Object(
          {
            after: Type.Optional(Type.Integer({ minimum: -1 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            subject: Type.Optional(Type.String({ maxLength: 128 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(EntryBody), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query as { after?: number; limit?: number; subject?: string };
      const tenantId = await scopeOf(requirePrincipal(request).tenantId);
      const entries = await deps.audit.entries({
        ...(q.after === undefined ? {} : { after: q.after }),
        ...(q.limit === undefined ? {} : { limit: q.limit }),
        ...(q.subject === undefined ? {} : { subject: q.subject }),
        ...(tenantId === undefined ? {} : { tenantId }),
      });
      return entries.map(entryJson);
    },
  );

  app.get(
    '/api/v1/audit/tree-head',
    {
      config: { access: AUDITORS },
      schema: {
        tags: ['audit'],
        querystring: Type.Object(
          { size: Type.Optional(Type.Integer({ minimum: 0 })) },
          { additionalProperties: false },
        ),
        response: { 200: HeadBody, ...errorResponses },
      },
    },
    async (request) => headJson(await deps.audit.treeHead((request.query as { size?: number }).size)),
  );

  app.get(
    '/api/v1/audit/public-key',
    {
      config: { access: AUDITORS },
      schema: {
        tags: ['audit'],
        response: {
          200: Type.Object({ origin: Type.String(), publicKeyPem: Type.String() }),
          ...errorResponses,
        },
      },
    },
    async () => ({
      origin: await deps.audit.origin(),
      publicKeyPem: toPem('PUBLIC KEY', (await deps.audit.key()).publicKeyDer),
    }),
  );

  app.get(
    '/api/v1/audit/proofs/inclusion',
    {
      config: { access: AUDITORS },
      schema: {
        tags: ['audit'],
        querystring: Type.Object(
          { seq: Type.Integer({ minimum: 0 }), treeSize: Type.Optional(Type.Integer({ minimum: 1 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            seq: Type.Integer(),
            leafHash: Type.String(),
            head: HeadBody,
            proof: Type.Array(Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query as { seq: number; treeSize?: number };
      const tenantId = await scopeOf(requirePrincipal(request).tenantId);
      if (tenantId !== undefined) {
        const [entry] = await deps.audit.entries({ after: q.seq - 1, limit: 1, tenantId });
        if (entry?.seq !== q.seq) throw new NotFoundError('ERR_AUDIT_ENTRY_NOT_FOUND', `no entry ${q.seq}`);
      }
      const r = await deps.audit.inclusionProof(q.seq, q.treeSize);
      return {
        seq: r.seq,
        leafHash: toBase64(r.leafHash),
        head: headJson(r.head),
        proof: r.proof.map(toBase64),
      };
    },
  );

  app.get(
    '/api/v1/audit/proofs/consistency',
    {
      config: { access: AUDITORS },
      schema: {
        tags: ['audit'],
        querystring: Type.Object(
          { from: Type.Integer({ minimum: 1 }), to: Type.Integer({ minimum: 1 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ from: HeadBody, to: HeadBody, proof: Type.Array(Type.String()) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query as { from: number; to: number };
      const r = await deps.audit.consistencyProof(q.from, q.to);
      return { from: headJson(r.from), to: headJson(r.to), proof: r.proof.map(toBase64) };
    },
  );
}
