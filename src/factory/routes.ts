import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { AuthenticationError, ForbiddenError } from '../core/errors.ts';
import type { FactoryService } from './service.ts';
import type { ManifestService } from './manifest.ts';
import type { ClaimService } from './claims.ts';
import { parseLabel } from './label.ts';
import type { StationCaller } from './types.ts';
import { AbortBody, b64, BeginBody, CompleteBody, enc, IssueBody, SealBody, StartBody } from './wire.ts';

const STATION = { roles: ['station'] } as const;
const OPERATORS = { roles: ['admin', 'operator'] } as const;
const READERS = { roles: ['admin', 'operator', 'auditor'] } as const;

/** The station behind a request (an mTLS station certificate). Throws ERR_AUTH_REQUIRED, ERR_FACTORY_STATION_REQUIRED. */
function stationOf(request: FastifyRequest): StationCaller {
  const p = request.principal;
  if (p === undefined) throw new AuthenticationError('ERR_AUTH_REQUIRED', 'authentication required');
  if (p.kind !== 'station' || p.role !== 'station') {
    throw new ForbiddenError(
      'ERR_FACTORY_STATION_REQUIRED',
      'only a station certificate may provision devices',
    );
  }
  return { stationId: p.id, tenantId: p.tenantId, actor: p.actor };
}

function operatorOf(request: FastifyRequest): { tenantId: string; actor: string } {
  const p = request.principal;
  if (p === undefined) throw new AuthenticationError('ERR_AUTH_REQUIRED', 'authentication required');
  return { tenantId: p.tenantId, actor: p.actor };
}

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/**
 * Factory routes: the station protocol under /api/v1/factory (role station, mTLS principal kind
 * 'station') and stations/batches for operators under /api/v1.
 */
export async function factoryRoutes(
  app: FastifyInstance,
  deps: { factory: FactoryService; manifests?: ManifestService; claims?: ClaimService },
): Promise<void> {
  const f = deps.factory;
  const tags = ['factory'];

  app.post(
    '/api/v1/factory/begin',
    { config: { access: STATION }, schema: { tags, body: BeginBody } },
    async (req) => f.begin(stationOf(req), req.body as Static<typeof BeginBody>),
  );

  app.post(
    '/api/v1/factory/start',
    { config: { access: STATION }, schema: { tags, body: StartBody } },
    async (req) => {
      const b = req.body as Static<typeof StartBody>;
      const r = await f.start(stationOf(req), {
        batchId: b.batchId,
        serial: b.serial,
        model: b.model,
        publicKey: b64(b.publicKey, 'publicKey'),
        csr: b64(b.csr, 'csr'),
        transportPublicKey: b64(b.transportPublicKey, 'transportPublicKey'),
        signature: b64(b.signature, 'signature'),
      });
      const { identity: i, sealed: s } = r;
      return {
        deviceId: r.deviceId,
        state: r.state,
        ...(i === undefined
          ? {}
          : {
              identity: { certificate: enc(i.certificate), chain: i.chain.map(enc), config: enc(i.config) },
            }),
        ...(s === undefined ? {} : { sealed: { enc: enc(s.enc), ciphertext: enc(s.ciphertext) } }),
      };
    },
  );

  app.post(
    '/api/v1/factory/issue',
    { config: { access: STATION }, schema: { tags, body: IssueBody } },
    async (req) => {
      const b = req.body as Static<typeof IssueBody>;
      const r = await f.issue(stationOf(req), {
        batchId: b.batchId,
        serial: b.serial,
        publicKey: b64(b.publicKey, 'publicKey'),
        csr: b64(b.csr, 'csr'),
      });
      return { certificate: enc(r.certificate), chain: r.chain.map(enc), config: enc(r.config) };
    },
  );

  app.post(
    '/api/v1/factory/seal',
    { config: { access: STATION }, schema: { tags, body: SealBody } },
    async (req) => {
      const b = req.body as Static<typeof SealBody>;
      const r = await f.seal(stationOf(req), {
        batchId: b.batchId,
        serial: b.serial,
        transportPublicKey: b64(b.transportPublicKey, 'transportPublicKey'),
        signature: b64(b.signature, 'signature'),
      });
      return { enc: enc(r.enc), ciphertext: enc(r.ciphertext) };
    },
  );

  app.get(
    '/api/v1/factory/batches/:id/firmware',
    { config: { access: STATION }, schema: { tags, params: IdParams } },
    async (req) => {
      const fw = await f.firmware(stationOf(req), (req.params as { id: string }).id);
      return {
        version: fw.version,
        image: enc(fw.image),
        signerPublicKey: enc(fw.signerPublicKey),
      };
    },
  );

  app.post(
    '/api/v1/factory/complete',
    { config: { access: STATION }, schema: { tags, body: CompleteBody } },
    async (req) => {
      const b = req.body as Static<typeof CompleteBody>;
      const rb = b.readback;
      return f.complete(stationOf(req), {
        batchId: b.batchId,
        serial: b.serial,
        readback: {
          fuses: rb.fuses,
          identityPublicKey: b64(rb.identityPublicKey, 'identityPublicKey'),
          firmwareSha256: b64(rb.firmwareSha256, 'firmwareSha256'),
          configSha256: b64(rb.configSha256, 'configSha256'),
          rotpkHash: b64(rb.rotpkHash, 'rotpkHash'),
          secrets: rb.secrets,
        },
      });
    },
  );

  app.post(
    '/api/v1/factory/abort',
    { config: { access: STATION }, schema: { tags, body: AbortBody } },
    async (req, reply) => {
      await f.abort(stationOf(req), req.body as Static<typeof AbortBody>);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/stations',
    {
      config: { access: { roles: ['admin'] } },
      schema: {
        tags,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const p = operatorOf(req);
      return reply
        .code(201)
        .send(await f.batches.createStation(p, p.tenantId, (req.body as { name: string }).name));
    },
  );

  const NewBatchBody = Type.Object(
    {
      modelId: Type.String({ minLength: 1, maxLength: 64 }),
      quantity: Type.Integer({ minimum: 1 }),
      stationId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      notBefore: Type.String({ maxLength: 40 }),
      notAfter: Type.String({ maxLength: 40 }),
    },
    { additionalProperties: false },
  );
  app.post(
    '/api/v1/batches',
    { config: { access: OPERATORS }, schema: { tags, body: NewBatchBody } },
    async (req, reply) => {
      const p = operatorOf(req);
      const b = req.body as Static<typeof NewBatchBody>;
      const batch = await f.batches.createBatch(p, {
        tenantId: p.tenantId,
        modelId: b.modelId,
        quantity: b.quantity,
        stationId: b.stationId ?? null,
        notBefore: b.notBefore,
        notAfter: b.notAfter,
      });
      return reply.code(201).send(batch);
    },
  );

  app.get(
    '/api/v1/batches/:id',
    { config: { access: READERS }, schema: { tags, params: IdParams } },
    async (req) => f.batches.progress((req.params as { id: string }).id, operatorOf(req).tenantId),
  );

  app.post(
    '/api/v1/batches/:id/close',
    { config: { access: OPERATORS }, schema: { tags, params: IdParams } },
    async (req) => {
      const p = operatorOf(req);
      return f.batches.closeBatch(p, (req.params as { id: string }).id, p.tenantId);
    },
  );

  const { manifests, claims } = deps;
  if (manifests !== undefined) {
    app.post(
      '/api/v1/batches/:id/manifest',
      { config: { access: OPERATORS }, schema: { tags, params: IdParams } },
      async (req, reply) => {
        const p = operatorOf(req);
        return reply.code(201).send(await manifests.sign(p, p.tenantId, (req.params as { id: string }).id));
      },
    );
  }
  if (claims !== undefined) {
    const ClaimBody = Type.Object(
      { label: Type.String({ minLength: 1, maxLength: 200 }) },
      { additionalProperties: false },
    );
    app.post(
      '/api/v1/claims',
      { config: { access: OPERATORS }, schema: { tags, body: ClaimBody } },
      async (req) => {
        const p = operatorOf(req);
        return claims.claim(p, p.tenantId, parseLabel((req.body as Static<typeof ClaimBody>).label));
      },
    );
  }
}
