/**
 * ajv validators with readable messages, shared by the native API and the dialects.
 * Schemas are JSON Schema 2020-12 (the OpenAPI 3.1 dialect) and are compiled once, at startup.
 */
import { Ajv2020, type ErrorObject, type AnySchema } from 'ajv/dist/2020.js';
import { RotaError, type ErrorCode } from '../domain/errors.js';

const bodyAjv = new Ajv2020({ allErrors: false, verbose: true, allowUnionTypes: true });
/** Query strings are text: this instance coerces "50" to 50 and "true" to true, and fills defaults. */
const queryAjv = new Ajv2020({ allErrors: false, verbose: true, allowUnionTypes: true, coerceTypes: true, useDefaults: true });

export interface ValidatorOptions {
  /** Error code for a mismatch (default INVALID_BODY). */
  code?: ErrorCode;
  /** What the document is called in messages when the error is at its root (default "body"). */
  label?: string;
  /** Prefix for field paths in messages, e.g. "query." (default none). */
  pathPrefix?: string;
}

/** Checks a value against a schema and returns it typed; throws RotaError naming the field. */
export type Validator<T> = (value: unknown) => T;

export function compileValidator<T>(schema: AnySchema, opts: ValidatorOptions = {}): Validator<T> {
  return makeValidator<T>(bodyAjv.compile(schema), opts);
}

/** For query strings: coerces types and applies defaults in place; pass a copy of ctx.query. */
export function compileQueryValidator<T>(schema: AnySchema): Validator<T> {
  const validate = makeValidator<T>(queryAjv.compile(schema), { code: 'INVALID_QUERY', label: 'query', pathPrefix: 'query.' });
  return (value) => {
    const out = validate(value);
    // ajv coerces "1e999" to Infinity and then skips the bounds: refuse what is not a finite number.
    for (const [k, v] of Object.entries(out as Record<string, unknown>)) {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new RotaError('INVALID_QUERY', `query.${k}: must be a finite number`);
    }
    return out;
  };
}

function makeValidator<T>(fn: ReturnType<Ajv2020['compile']>, opts: ValidatorOptions): Validator<T> {
  const code = opts.code ?? 'INVALID_BODY';
  return (value) => {
    if (fn(value)) return value as T;
    throw new RotaError(code, describeErrors(fn.errors ?? [], opts.label ?? 'body', opts.pathPrefix ?? ''));
  };
}

/** "/action/http/url" -> "action.http.url", "/deps/0" -> "deps[0]". */
export function fieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  }
  return out;
}

const ARTICLE: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** The one message a client sees: the first error that is not a detail of a failed oneOf branch. */
export function describeErrors(errors: ErrorObject[], label: string, pathPrefix: string): string {
  const e = errors.find((x) => !x.schemaPath.includes('/oneOf/')) ?? errors[0];
  if (!e) return `${label}: invalid`;
  const path = fieldPath(e.instancePath);
  const at = (p: string) => (p ? pathPrefix + p : label);
  const join = (p: string, k: string) => (p ? `${p}.${k}` : k);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown field '${String(params.additionalProperty)}'${path ? ` in ${pathPrefix}${path}` : label === 'body' ? '' : ` in ${label}`}`;
    case 'required':
      return `${pathPrefix}${join(path, String(params.missingProperty))}: is required`;
    case 'type': {
      const types = String(params.type).split(',');
      return `${at(path)}: must be ${types.map((t) => ARTICLE[t] ?? t).join(' or ')}`;
    }
    case 'enum':
      return `${at(path)}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${at(path)}: must be ${JSON.stringify(params.allowedValue)}`;
    case 'oneOf': {
      const kinds = Array.isArray(e.schema) ? (e.schema as { required?: string[] }[]).map((b) => b.required?.[0]).filter(Boolean) : [];
      return kinds.length ? `${at(path)}: must have exactly one of ${kinds.join(', ')}` : `${at(path)}: ${e.message ?? 'is invalid'}`;
    }
    case 'dependentRequired':
      return `${at(path)}: '${String(params.property)}' is only allowed together with '${String(params.missingProperty)}'`;
    default:
      return `${at(path)}: ${e.message ?? 'is invalid'}`;
  }
}
