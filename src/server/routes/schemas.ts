import { Type } from 'typebox';

/** Shared response schemas of the operator API (also the OpenAPI components). */
export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
});

export const TenantBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.Union([Type.Literal('manufacturer'), Type.Literal('owner')]),
  createdAt: Type.String(),
});

export const ModelBody = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  description: Type.String(),
  createdAt: Type.String(),
});

export const DeviceBody = Type.Object({
  id: Type.String(),
  serial: Type.String(),
  manufacturerId: Type.String(),
  tenantId: Type.String(),
  modelId: Type.String(),
  state: Type.String(),
  identityKeyFingerprint: Type.Union([Type.String(), Type.Null()]),
  batchId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const TokenInfoBody = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  role: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.String(),
});

export const IdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

/** Standard error responses every protected route can return. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  429: ErrorBody,
} as const;
