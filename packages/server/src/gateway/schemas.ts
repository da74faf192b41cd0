/** JSON schemas of the REST API: the same objects validate requests and make the OpenAPI document. */

import { defaultPageLimit } from '../records/index.ts';

export const UUID = { type: 'string', format: 'uuid' } as const;
const TIMESTAMP = { type: 'string', format: 'date-time' } as const;

export const SLUG = {
  type: 'string',
  pattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$',
  description: 'lower-case letters, digits and inner dashes',
} as const;
export const PLAN = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$' } as const;
export const COLLECTION_NAME = { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,62}$' } as const;

export const TENANT = {
  type: 'object',
  required: ['id', 'slug', 'name', 'plan', 'status', 'shard', 'createdAt', 'updatedAt'],
  properties: {
    id: UUID,
    slug: SLUG,
    name: { type: 'string' },
    plan: PLAN,
    status: { type: 'string', enum: ['active', 'suspended', 'deleted'] },
    shard: { type: 'string' },
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
  },
} as const;

/** A role name: built in (`owner`…) or one of the tenant's custom roles. */
export const ROLE_NAME = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } as const;

/** The roles a credential acts with. */
export const ROLE_NAMES = {
  type: 'array',
  minItems: 1,
  maxItems: 16,
  uniqueItems: true,
  items: ROLE_NAME,
} as const;

export const API_KEY = {
  type: 'object',
  required: ['id', 'name', 'roles', 'createdAt'],
  properties: {
    id: UUID,
    name: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    createdAt: TIMESTAMP,
    revokedAt: { type: ['string', 'null'] },
  },
} as const;

export const ISSUED_API_KEY = {
  type: 'object',
  required: ['id', 'name', 'roles', 'secret', 'createdAt'],
  properties: {
    id: UUID,
    name: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    secret: { type: 'string' },
    createdAt: TIMESTAMP,
  },
} as const;

export const COLLECTION = {
  type: 'object',
  required: ['name', 'schema', 'encrypted', 'version', 'createdAt', 'updatedAt'],
  properties: {
    name: COLLECTION_NAME,
    schema: { type: 'object', additionalProperties: true },
    encrypted: { type: 'array', items: { type: 'string' } },
    version: { type: 'integer' },
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
  },
} as const;

export const RECORD = {
  type: 'object',
  required: ['id', 'version', 'createdAt', 'updatedAt', 'data'],
  properties: {
    id: UUID,
    version: { type: 'integer' },
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
    data: { type: 'object', additionalProperties: true },
  },
} as const;

export const RECORD_DATA = {
  type: 'object',
  description: 'the record, as its collection schema defines it',
} as const;

export function pageOf(item: object) {
  return {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: item }, nextCursor: { type: ['string', 'null'] } },
  } as const;
}

export function pageQuery(maxLimit: number, extra: object = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: maxLimit,
        default: defaultPageLimit(maxLimit),
      },
      cursor: { type: 'string', maxLength: 512 },
    },
    ...extra,
  } as const;
}

/** A response without a body: a deletion's 204, a revalidation's 304. */
export const NO_BODY = { type: 'null', description: 'no body' } as const;

/** The conditional headers of a versioned resource's writes (see if-match.ts). */
export const IF_MATCH_HEADERS = {
  type: 'object',
  properties: {
    'if-match': {
      type: 'string',
      description:
        'ETags of the versions this write may replace, or *; a write to any other version is refused with 412',
    },
  },
} as const;

/** A response of another media type than JSON, as Fastify and OpenAPI both read it. */
export function mediaResponse(type: string, description: string, schema: object = {}) {
  return { description, content: { [type]: { schema } } };
}

/** A page for a person's browser. */
export const HTML_PAGE = mediaResponse('text/html', 'an HTML page', { type: 'string' });
