import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { fromBase64 } from '../core/encoding.ts';
import { ImprintError } from '../core/errors.ts';
import type { RegistryService } from '../registry/service.ts';
import { requirePrincipal } from '../server/principal.ts';
import type { Principal } from '../server/types.ts';
import { releaseRoutes } from './release-routes.ts';
import type { ReleaseService } from './releases.ts';
import type { SigningService } from './signing-service.ts';
import type { TufRepository } from './tuf/repository.ts';
import type { SignParams } from './types.ts';

/** What the firmware routes are built from. */
export interface FirmwareRouteDeps {
  readonly signing: SigningService;
  readonly tuf: TufRepository;
  readonly registry: RegistryService;
  readonly releases: ReleaseService;
}

const RELEASE = { roles: ['release-manager'] } as const;
const READ = { roles: ['release-manager', 'admin', 'operator', 'auditor'] } as const;
/** Base64 of the largest firmware plus JSON overhead. */
const SIGN_BODY_LIMIT = 48 * 1024 * 1024;

const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Uuid = Type.String({ pattern: '^[0-9a-fA-F-]{32,36}$' });

const by = (p: Principal) => ({ actor: p.actor, tenantId: p.tenantId });

/**
 * Firmware signing, approvals and the TUF repository: `/api/v1/firmware/...` (role release-manager
 * to change, readers to look) and the public, static `/tuf/:tenant/...` tree devices and TUF
 * clients fetch.
 */
export async function firmwareRoutes(app: FastifyInstance, deps: FirmwareRouteDeps): Promise<void> {
  const { signing, tuf, registry } = deps;
  await releaseRoutes(app, deps.releases);

  app.get(
    '/tuf/:tenant/targets/*',
    {
      config: { access: 'public' },
      schema: { hide: true, params: Type.Object({ tenant: Type.String(), '*': Type.String() }) },
    },
    async (request, reply) => {
      const { tenant, '*': path } = request.params as { tenant: string; '*': string };
      try {
        const bytes = await tuf.target(tenant, path);
        return reply.type('application/octet-stream').send(Buffer.from(bytes));
      } catch (e) {
        return notFound(reply, e);
      }
    },
  );

  app.get(
    '/tuf/:tenant/:name',
    {
      config: { access: 'public' },
      schema: { hide: true, params: Type.Object({ tenant: Type.String(), name: Type.String() }) },
    },
    async (request, reply) => {
      const { tenant, name } = request.params as { tenant: string; name: string };
      try {
        const body = await tuf.metadata(tenant, name);
        return reply.type('application/json').send(body);
      } catch (e) {
        return notFound(reply, e);
      }
    },
  );

  app.post(
    '/api/v1/firmware/keys',
    {
      config: { access: RELEASE },
      schema: {
        tags: ['firmware'],
        body: Type.Object(
          {
            label: Type.String({ minLength: 1, maxLength: 128 }),
            algorithm: Type.Union([
              Type.Literal('ecdsa-p256'),
              Type.Literal('ecdsa-p384'),
              Type.Literal('ed25519'),
              Type.Literal('rsa-3072'),
            ]),
            approvalsRequired: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const b = request.body as { label: string; algorithm: 'ed25519'; approvalsRequired?: number };
      return reply
        .code(201)
        .send(
          await signing.createKey(
            by(requirePrincipal(request)),
            b.label,
            b.algorithm,
            b.approvalsRequired ?? 0,
          ),
        );
    },
  );

  // The key whose hash the factory burns into every device: releases signed by it boot there.
  app.post(
    '/api/v1/firmware/keys/code-signing-ca',
    { config: { access: RELEASE }, schema: { tags: ['firmware'] } },
    async (request, reply) =>
      reply.code(201).send(await signing.adoptCodeSigningKey(by(requirePrincipal(request)))),
  );

  app.post(
    '/api/v1/firmware/sign',
    {
      bodyLimit: SIGN_BODY_LIMIT,
      config: { access: RELEASE },
      schema: {
        tags: ['firmware'],
        body: Type.Object(
          {
            keyId: Type.String({ minLength: 1, maxLength: 64 }),
            firmware: Type.String({ minLength: 1, description: 'base64 of the raw firmware' }),
            version: Type.String({ minLength: 1, maxLength: 32 }),
            securityCounter: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
            headerSize: Type.Optional(Type.Integer({ minimum: 32, maximum: 0xffff })),
            loadAddr: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
            vendorId: Type.Optional(Uuid),
            classId: Type.Optional(Uuid),
            publicKeyFormat: Type.Optional(Type.Union([Type.Literal('hash'), Type.Literal('full')])),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { keyId, firmware, ...params } = request.body as SignParams & { keyId: string; firmware: string };
      return reply
        .code(201)
        .send(
          await signing.requestSignature(by(requirePrincipal(request)), keyId, fromBase64(firmware), params),
        );
    },
  );

  app.post(
    '/api/v1/firmware/requests/:id/approve',
    {
      config: { access: RELEASE },
      schema: { tags: ['firmware'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }) },
    },
    async (request) => signing.approve(by(requirePrincipal(request)), (request.params as { id: string }).id),
  );

  app.get(
    '/api/v1/firmware/requests/:id',
    {
      config: { access: READ },
      schema: { tags: ['firmware'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }) },
    },
    async (request) =>
      signing.getRequest(requirePrincipal(request).tenantId, (request.params as { id: string }).id),
  );

  app.get(
    '/api/v1/firmware/images/:digest',
    { config: { access: READ }, schema: { tags: ['firmware'], params: Type.Object({ digest: Hex64 }) } },
    async (request) =>
      signing.getImage(requirePrincipal(request).tenantId, (request.params as { digest: string }).digest),
  );

  app.post(
    '/api/v1/firmware/tuf/init',
    {
      config: { access: RELEASE },
      schema: {
        tags: ['firmware'],
        body: Type.Object(
          {
            rootKeys: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
            rootThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const b = request.body as { rootKeys?: number; rootThreshold?: number };
      await tuf.init(by(requirePrincipal(request)), b);
      return reply.code(201).send({ status: 'initialised' });
    },
  );

  app.post(
    '/api/v1/firmware/tuf/targets',
    {
      config: { access: RELEASE },
      schema: {
        tags: ['firmware'],
        body: Type.Object(
          { imageDigest: Hex64, modelId: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      const b = request.body as { imageDigest: string; modelId: string };
      const model = await registry.getModel(b.modelId, p.tenantId);
      return reply.code(201).send({ path: await tuf.addTarget(by(p), b.imageDigest, model) });
    },
  );

  app.post(
    '/api/v1/firmware/tuf/rotate',
    {
      config: { access: RELEASE },
      schema: {
        tags: ['firmware'],
        body: Type.Object(
          {
            role: Type.Union([
              Type.Literal('root'),
              Type.Literal('targets'),
              Type.Literal('snapshot'),
              Type.Literal('timestamp'),
            ]),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      await tuf.rotateKey(by(requirePrincipal(request)), (request.body as { role: 'root' }).role);
      return { status: 'rotated' };
    },
  );
}

function notFound(reply: FastifyReply, e: unknown) {
  // TUF clients stop probing for newer roots on a plain 404, so answer it even on a bare Fastify.
  if (e instanceof ImprintError && e.status === 404)
    return reply.code(404).type('application/json').send(JSON.stringify(e.toJSON()));
  throw e;
}
