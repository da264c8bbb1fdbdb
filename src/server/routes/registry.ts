import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ForbiddenError, NotFoundError } from '../../core/errors.ts';
import type { RegistryService } from '../../registry/service.ts';
import { DEVICE_STATES } from '../../registry/types.ts';
import { requirePrincipal } from '../principal.ts';
import { DeviceBody, errorResponses, IdParams, ModelBody, TenantBody } from './schemas.ts';

const READERS = { roles: ['admin', 'operator', 'auditor'] } as const;
const WRITERS = { roles: ['admin', 'operator'] } as const;

/** Tenants, device models and devices under /api/v1. */
export async function registryRoutes(
  app: FastifyInstance,
  deps: { registry: RegistryService },
): Promise<void> {
  const { registry } = deps;
  const isManufacturer = async (tenantId: string) =>
    (await registry.getTenant(tenantId)).kind === 'manufacturer';

  app.get(
    '/api/v1/tenants',
    {
      config: { access: READERS },
      schema: { tags: ['registry'], response: { 200: Type.Array(TenantBody), ...errorResponses } },
    },
    async (request) => {
      const p = requirePrincipal(request);
      // The manufacturer runs the platform and sees its customers; an owner sees only itself.
      return (await isManufacturer(p.tenantId))
        ? registry.listTenants()
        : [await registry.getTenant(p.tenantId)];
    },
  );

  app.post(
    '/api/v1/tenants',
    {
      config: { access: { roles: ['admin'] } },
      schema: {
        tags: ['registry'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            kind: Type.Union([Type.Literal('owner'), Type.Literal('manufacturer')]),
          },
          { additionalProperties: false },
        ),
        response: { 201: TenantBody, ...errorResponses },
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      if (!(await isManufacturer(p.tenantId))) {
        throw new ForbiddenError('ERR_FORBIDDEN_TENANT', 'only the manufacturer tenant can create tenants');
      }
      const body = request.body as { name: string; kind: 'owner' | 'manufacturer' };
      return reply.code(201).send(await registry.createTenant(p, body.name, body.kind));
    },
  );

  app.get(
    '/api/v1/tenants/:id',
    {
      config: { access: READERS },
      schema: { tags: ['registry'], params: IdParams, response: { 200: TenantBody, ...errorResponses } },
    },
    async (request) => {
      const p = requirePrincipal(request);
      const { id } = request.params as { id: string };
      if (id !== p.tenantId && !(await isManufacturer(p.tenantId))) {
        throw new NotFoundError('ERR_TENANT_NOT_FOUND', `no tenant ${id}`);
      }
      return registry.getTenant(id);
    },
  );

  app.get(
    '/api/v1/models',
    {
      config: { access: READERS },
      schema: { tags: ['registry'], response: { 200: Type.Array(ModelBody), ...errorResponses } },
    },
    async (request) => registry.listModels(requirePrincipal(request).tenantId),
  );

  app.post(
    '/api/v1/models',
    {
      config: { access: WRITERS },
      schema: {
        tags: ['registry'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            description: Type.Optional(Type.String({ maxLength: 512 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: ModelBody, ...errorResponses },
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      const body = request.body as { name: string; description?: string };
      return reply
        .code(201)
        .send(await registry.createModel(p, p.tenantId, body.name, body.description ?? ''));
    },
  );

  app.get(
    '/api/v1/devices',
    {
      config: { access: READERS },
      schema: {
        tags: ['registry'],
        querystring: Type.Object(
          {
            state: Type.Optional(Type.Union(DEVICE_STATES.map((s) => Type.Literal(s)))),
            modelId: Type.Optional(Type.String({ maxLength: 64 })),
            batchId: Type.Optional(Type.String({ maxLength: 64 })),
            after: Type.Optional(Type.String({ maxLength: 64 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(DeviceBody), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query as Parameters<RegistryService['listDevices']>[1];
      return registry.listDevices(requirePrincipal(request).tenantId, q);
    },
  );

  app.get(
    '/api/v1/devices/:id',
    {
      config: { access: READERS },
      schema: { tags: ['registry'], params: IdParams, response: { 200: DeviceBody, ...errorResponses } },
    },
    async (request) =>
      registry.getDevice((request.params as { id: string }).id, requirePrincipal(request).tenantId),
  );

  app.post(
    '/api/v1/devices',
    {
      config: { access: WRITERS },
      schema: {
        tags: ['registry'],
        body: Type.Object(
          {
            serial: Type.String({ minLength: 1, maxLength: 64 }),
            modelId: Type.String({ minLength: 1, maxLength: 64 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: DeviceBody, ...errorResponses },
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      if (!(await isManufacturer(p.tenantId))) {
        throw new ForbiddenError('ERR_FORBIDDEN_TENANT', 'only a manufacturer registers devices');
      }
      const body = request.body as { serial: string; modelId: string };
      const device = await registry.createDevice(p, { manufacturerId: p.tenantId, ...body });
      return reply.code(201).send(device);
    },
  );
}
