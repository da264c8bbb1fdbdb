import { X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { fromBase64 } from '../core/encoding.ts';
import { ForbiddenError } from '../core/errors.ts';
import { requirePrincipal } from '../server/principal.ts';
import type { InstallReport, ReleaseService } from './releases.ts';

const RELEASE = { roles: ['release-manager'] } as const;
const READ = { roles: ['release-manager', 'admin', 'operator', 'auditor'] } as const;
const Id = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** Releases, rollout stages, groups, progress and device install reports under /api/v1/firmware. */
export async function releaseRoutes(app: FastifyInstance, releases: ReleaseService): Promise<void> {
  app.post(
    '/api/v1/firmware/releases',
    {
      config: { access: RELEASE },
      schema: {
        tags: ['firmware'],
        body: Type.Object(
          {
            imageDigest: Type.String({ pattern: '^[0-9a-f]{64}$' }),
            modelIds: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 64 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      const b = request.body as { imageDigest: string; modelIds: string[] };
      return reply
        .code(201)
        .send(await releases.create({ actor: p.actor, tenantId: p.tenantId }, b.imageDigest, b.modelIds));
    },
  );

  app.post(
    '/api/v1/firmware/releases/:id/stage',
    {
      config: { access: RELEASE },
      schema: {
        tags: ['firmware'],
        params: Id,
        body: Type.Union([
          Type.Object(
            { stage: Type.Literal('group'), group: Type.String({ maxLength: 64 }) },
            { additionalProperties: false },
          ),
          Type.Object(
            { stage: Type.Literal('percentage'), percent: Type.Integer({ minimum: 1, maximum: 100 }) },
            { additionalProperties: false },
          ),
          Type.Object({ stage: Type.Literal('all') }, { additionalProperties: false }),
        ]),
      },
    },
    async (request) => {
      const p = requirePrincipal(request);
      return releases.stage(
        { actor: p.actor, tenantId: p.tenantId },
        (request.params as { id: string }).id,
        request.body as { stage: 'all' },
      );
    },
  );

  app.post(
    '/api/v1/firmware/groups/:id',
    {
      config: { access: RELEASE },
      schema: {
        tags: ['firmware'],
        params: Id,
        body: Type.Object(
          { deviceIds: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 10_000 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = requirePrincipal(request);
      await releases.addToGroup(
        { actor: p.actor, tenantId: p.tenantId },
        (request.params as { id: string }).id,
        (request.body as { deviceIds: string[] }).deviceIds,
      );
      return { status: 'ok' };
    },
  );

  app.get(
    '/api/v1/firmware/releases/:id/progress',
    { config: { access: READ }, schema: { tags: ['firmware'], params: Id } },
    async (request) =>
      releases.progress(requirePrincipal(request).tenantId, (request.params as { id: string }).id),
  );

  // The device asks which releases include it now (mutual TLS with its IDevID or LDevID).
  app.get(
    '/api/v1/firmware/rollout',
    { config: { access: 'device' }, schema: { tags: ['firmware'] } },
    async (request) => {
      const p = requirePrincipal(request);
      if (p.kind !== 'device')
        throw new ForbiddenError(
          'ERR_FIRMWARE_DEVICE_ONLY',
          'only devices (mutual TLS) ask for their rollout',
        );
      return {
        releases: (await releases.rolloutFor(p.id)).map((r) => ({
          id: r.id,
          imageDigest: r.imageDigest,
          version: r.version,
          securityCounter: r.securityCounter,
        })),
      };
    },
  );

  app.post(
    '/api/v1/firmware/reports',
    {
      config: { access: 'device' },
      schema: {
        tags: ['firmware'],
        body: Type.Object(
          {
            report: Type.Object(
              {
                deviceId: Type.String({ maxLength: 64 }),
                version: Type.String({ maxLength: 32 }),
                imageDigest: Type.String({ maxLength: 64 }),
                time: Type.String({ maxLength: 40 }),
                refused: Type.Optional(
                  Type.Object(
                    { code: Type.String({ maxLength: 64 }), target: Type.String({ maxLength: 256 }) },
                    { additionalProperties: false },
                  ),
                ),
              },
              { additionalProperties: false },
            ),
            signature: Type.String({ maxLength: 2048 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = requirePrincipal(request);
      const leaf = p.certificateChain?.[0];
      if (p.kind !== 'device' || leaf === undefined)
        throw new ForbiddenError('ERR_FIRMWARE_REPORT_UNTRUSTED', 'reports come from devices over mTLS');
      const b = request.body as { report: InstallReport; signature: string };
      if (b.report.deviceId !== p.id)
        throw new ForbiddenError('ERR_FIRMWARE_REPORT_UNTRUSTED', 'a device reports only for itself');
      const spki = new Uint8Array(
        new X509Certificate(Buffer.from(leaf)).publicKey.export({ format: 'der', type: 'spki' }),
      );
      await releases.report(p.tenantId, b.report, fromBase64(b.signature), spki);
      return { status: 'recorded' };
    },
  );
}
