import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Two validators: bodies are checked exactly as sent (no type coercion, unknown fields refused by the
 * schemas), while query strings and path parameters, which arrive as text, may be coerced to numbers.
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = new Ajv({
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
  });
  const lenient = new Ajv({
    coerceTypes: 'array',
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
  });
  for (const ajv of [strict, lenient]) {
    addFormats.default(ajv);
    ajv.addKeyword({ keyword: 'tags' }).addKeyword({ keyword: 'hide' });
  }
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : lenient;
    const validate: ValidateFunction = ajv.compile(schema as object);
    return (data: unknown) => (validate(data) ? { value: data } : { error: new ValidationFailure(validate) });
  };
}

class ValidationFailure extends Error {
  readonly validation: unknown[];
  constructor(validate: ValidateFunction) {
    const first = validate.errors?.[0];
    super(first === undefined ? 'invalid' : `${first.instancePath || '/'} ${first.message ?? 'is invalid'}`);
    this.validation = validate.errors ?? [];
  }
}
