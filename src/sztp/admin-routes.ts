/** The SZTP admin API under /api/v1/sztp (roles admin and operator). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { fromBase64, toBase64 } from '../core/encoding.ts';
import { AuthenticationError, NotFoundError, ValidationError } from '../core/errors.ts';
import type { Principal } from '../server/types.ts';
import type { SztpAdminService } from './admin-service.ts';
import type { SztpBootstrapService } from './bootstrap-service.ts';

const ADMIN = { roles: ['admin'] } as const;
const WRITERS = { roles: ['admin', 'operator'] } as const;
/** Auditors are read-only: they may look at owners and bootstrapping logs, never change them. */
const READERS = { roles: ['admin', 'operator', 'auditor'] } as const;
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const Pem = Type.String({ minLength: 1, maxLength: 65536 });

function who(request: FastifyRequest): Principal {
  if (request.principal === undefined)
    throw new AuthenticationError('ERR_AUTH_REQUIRED', 'authentication required');
  return request.principal;
}

function b64(s: string): Uint8Array {
  try {
    return fromBase64(s);
  } catch {
    throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'not base64');
  }
}

/** Registers the admin routes (called by sztpRoutes). */
export async function sztpAdminRoutes(
  app: FastifyInstance,
  admin: SztpAdminService,
  bootstrap: SztpBootstrapService,
): Promise<void> {
  const ownerOfTenant = async (request: FastifyRequest, id: string) => {
    const owner = await admin.getOwner(id);
    if (owner.tenantId !== who(request).tenantId)
      throw new NotFoundError('ERR_SZTP_OWNER_NOT_FOUND', `no owner ${id}`);
    return owner;
  };

  app.post(
    '/api/v1/sztp/owners',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['sztp'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            chainPem: Pem,
            keyId: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = who(request);
      const b = request.body as { name: string; chainPem: string; keyId?: string };
      return reply.code(201).send(
        await admin.registerOwner(p, {
          tenantId: p.tenantId,
          name: b.name,
          chainPem: b.chainPem,
          ...(b.keyId !== undefined ? { keyId: b.keyId } : {}),
        }),
      );
    },
  );

  app.get(
    '/api/v1/sztp/owners',
    { config: { access: READERS }, schema: { tags: ['sztp'] } },
    async (request) => admin.listOwners(who(request).tenantId),
  );

  app.put(
    '/api/v1/sztp/masa',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['sztp'],
        body: Type.Object(
          {
            keyId: Type.String(),
            chainPem: Pem,
            validityDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = who(request);
      const b = request.body as { keyId: string; chainPem: string; validityDays?: number };
      await admin.setMasa(p, {
        tenantId: p.tenantId,
        keyId: b.keyId,
        chainPem: b.chainPem,
        ...(b.validityDays !== undefined ? { validityDays: b.validityDays } : {}),
      });
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/sztp/manufacturer-cas',
    {
      config: { access: ADMIN },
      schema: { tags: ['sztp'], body: Type.Object({ pem: Pem }, { additionalProperties: false }) },
    },
    async (request, reply) => {
      const p = who(request);
      return reply
        .code(201)
        .send(await admin.addManufacturerCa(p, p.tenantId, (request.body as { pem: string }).pem));
    },
  );

  app.post(
    '/api/v1/sztp/owners/:id/bindings',
    {
      config: { access: WRITERS },
      schema: {
        tags: ['sztp'],
        params: IdParams,
        body: Type.Object(
          {
            serials: Type.Optional(Type.Array(Type.String(), { maxItems: 10000 })),
            batchId: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = who(request);
      const b = request.body as { serials?: string[]; batchId?: string };
      return admin.bind(p, {
        tenantId: p.tenantId,
        ownerId: (request.params as { id: string }).id,
        ...(b.serials !== undefined ? { serials: b.serials } : {}),
        ...(b.batchId !== undefined ? { batchId: b.batchId } : {}),
      });
    },
  );

  app.put(
    '/api/v1/sztp/owners/:id/records',
    {
      config: { access: WRITERS },
      schema: {
        tags: ['sztp'],
        params: IdParams,
        body: Type.Object(
          {
            scope: Type.Union([Type.Literal('device'), Type.Literal('model'), Type.Literal('owner')]),
            scopeId: Type.String({ minLength: 1 }),
            document: Type.Object({}, { additionalProperties: true }),
            encoding: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('xml')])),
            encrypt: Type.Optional(Type.Boolean()),
            ldevid: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const owner = await ownerOfTenant(request, (request.params as { id: string }).id);
      const b = request.body as {
        scope: 'device' | 'model' | 'owner';
        scopeId: string;
        document: unknown;
        encoding?: 'json' | 'xml';
        encrypt?: boolean;
        ldevid?: boolean;
      };
      return admin.setRecord(who(request), {
        ownerId: owner.id,
        scope: b.scope,
        scopeId: b.scopeId,
        document: b.document,
        ...(b.encoding !== undefined ? { encoding: b.encoding } : {}),
        ...(b.encrypt !== undefined ? { encrypt: b.encrypt } : {}),
        ...(b.ldevid !== undefined ? { ldevid: b.ldevid } : {}),
      });
    },
  );

  app.post(
    '/api/v1/sztp/owners/:id/webhooks',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['sztp'],
        params: IdParams,
        body: Type.Object({ url: Type.String({ maxLength: 2048 }) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const owner = await ownerOfTenant(request, (request.params as { id: string }).id);
      return reply
        .code(201)
        .send({ id: await admin.addWebhook(who(request), owner.id, (request.body as { url: string }).url) });
    },
  );

  // Owner side: the device maker's signed batch manifest binds its devices to this owner.
  app.post(
    '/api/v1/sztp/owners/:id/manifests',
    {
      config: { access: ADMIN },
      // A manifest lists every device of a batch with its certificate: ~1.5 KiB each.
      bodyLimit: 16 * 1024 * 1024,
      schema: {
        tags: ['sztp'],
        params: IdParams,
        body: Type.Object(
          {
            jws: Type.String({ minLength: 1, maxLength: 16 * 1024 * 1024 }),
            registerDevices: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const owner = await ownerOfTenant(request, (request.params as { id: string }).id);
      const b = request.body as { jws: string; registerDevices?: boolean };
      return reply.code(201).send(
        await admin.importManifest(who(request), {
          ownerId: owner.id,
          jws: b.jws,
          ...(b.registerDevices !== undefined ? { registerDevices: b.registerDevices } : {}),
        }),
      );
    },
  );

  app.post(
    '/api/v1/sztp/owners/:id/vouchers',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['sztp'],
        params: IdParams,
        body: Type.Object(
          { deviceId: Type.String(), cms: Type.String(), expiresAt: Type.String() },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const owner = await ownerOfTenant(request, (request.params as { id: string }).id);
      const b = request.body as { deviceId: string; cms: string; expiresAt: string };
      return reply.code(201).send({
        id: await admin.importVoucher(who(request), {
          ownerId: owner.id,
          deviceId: b.deviceId,
          cms: b64(b.cms),
          expiresAt: b.expiresAt,
        }),
      });
    },
  );

  app.post(
    '/api/v1/sztp/devices/:id/voucher',
    { config: { access: ADMIN }, schema: { tags: ['sztp'], params: IdParams } },
    async (request) => {
      const p = who(request);
      const id = (request.params as { id: string }).id;
      await admin.log(p.tenantId, id); // visibility check
      const v = await bootstrap.issueVoucher(p.actor, id);
      return { cms: toBase64(v.cms), expiresAt: v.expiresAt };
    },
  );

  app.put(
    '/api/v1/sztp/devices/:id/secret',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['sztp'],
        params: IdParams,
        body: Type.Object(
          { secret: Type.String({ minLength: 16, maxLength: 256 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = who(request);
      const id = (request.params as { id: string }).id;
      await admin.log(p.tenantId, id);
      await admin.setDeviceSecret(p, id, (request.body as { secret: string }).secret);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/sztp/devices/:id/log',
    { config: { access: READERS }, schema: { tags: ['sztp'], params: IdParams } },
    async (request) => admin.log(who(request).tenantId, (request.params as { id: string }).id),
  );
}
