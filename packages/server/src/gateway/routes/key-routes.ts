import type { FastifyInstance } from 'fastify';
import type { TenantAdmin } from '../../control/index.ts';
import { PalisadeError } from '../../errors/index.ts';
import type { KeyRotation } from '../../keys/index.ts';
import type { Tenant } from '../../tenancy/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { UUID } from '../schemas.ts';

const TIMESTAMP = { type: 'string', format: 'date-time' } as const;

const KEY_JOB = {
  type: 'object',
  required: ['id', 'keyId', 'targetVersion', 'state', 'processed', 'remaining', 'createdAt'],
  properties: {
    id: UUID,
    keyId: { type: 'string' },
    targetVersion: { type: 'integer' },
    state: { type: 'string', enum: ['running', 'done', 'superseded', 'failed'] },
    processed: { type: 'integer' },
    remaining: { type: 'integer' },
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
    finishedAt: { type: ['string', 'null'] },
    error: { type: ['string', 'null'] },
  },
} as const;

const KEY_STATUS = {
  type: 'object',
  required: ['kekVersions', 'masterKeyId', 'dataKeys', 'jobs'],
  properties: {
    kekVersions: { type: 'array', items: { type: 'integer' } },
    masterKeyId: { type: 'string', description: 'public id of the master key (not the key)' },
    dataKeys: {
      type: 'array',
      items: {
        type: 'object',
        required: ['keyId', 'version', 'kekVersion', 'state'],
        properties: {
          keyId: { type: 'string' },
          version: { type: 'integer' },
          kekVersion: { type: 'integer' },
          state: { type: 'string', enum: ['active', 'retired'] },
          records: { type: ['integer', 'null'] },
          encryptions: {
            type: 'integer',
            description:
              'encryptions reserved under the version: never fewer than it made that were stored',
          },
          createdAt: TIMESTAMP,
          retiredAt: { type: ['string', 'null'] },
        },
      },
    },
    jobs: { type: 'array', items: KEY_JOB },
  },
} as const;

const TAGS = ['keys'];
const JOB_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: UUID },
} as const;
const TENANT_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: UUID },
} as const;
const TENANT_JOB_PARAMS = {
  type: 'object',
  required: ['id', 'jobId'],
  properties: { id: UUID, jobId: UUID },
} as const;
const PLATFORM_ACTOR = 'platform-admin';

async function liveTenant(tenants: TenantAdmin, id: string): Promise<Tenant> {
  const tenant = await tenants.get(id);
  if (tenant.status === 'deleted')
    throw new PalisadeError('PALISADE_TENANT_DELETED', `tenant ${id} is deleted`);
  return tenant;
}

/**
 * `/v1/keys…` (a tenant's own keys) and `/v1/platform/tenants/{id}/keys…` (the platform
 * admin's view): rotation, job progress and key versions. No route ever returns key material.
 */
export function keyRoutes(app: FastifyInstance, rotation: KeyRotation, tenants: TenantAdmin): void {
  app.post('/v1/keys/rotate', {
    config: { auth: 'keys:rotate' },
    schema: {
      summary: 'Start a new data key version now and re-encrypt existing records in the background',
      tags: TAGS,
      response: { 202: KEY_JOB },
    },
    handler: async (request, reply) => {
      const context = tenantOf(request);
      const job = await rotation.rotate(context.tenant, context.actor.id);
      return reply.code(202).header('location', `/v1/keys/jobs/${job.id}`).send(job);
    },
  });

  app.get('/v1/keys', {
    config: { auth: 'keys:read' },
    schema: {
      summary: "The tenant's key versions, the records under each, and key jobs",
      tags: TAGS,
      response: { 200: KEY_STATUS },
    },
    handler: (request) => rotation.status(tenantOf(request).tenant),
  });

  app.get<{ Params: { id: string } }>('/v1/keys/jobs/:id', {
    config: { auth: 'keys:read' },
    schema: {
      summary: 'Progress of a re-encryption job',
      tags: TAGS,
      params: JOB_PARAMS,
      response: { 200: KEY_JOB },
    },
    handler: (request) => rotation.job(tenantOf(request).tenant, request.params.id),
  });

  app.post<{ Params: { id: string } }>('/v1/platform/tenants/:id/keys/rotate', {
    config: { auth: 'admin' },
    schema: {
      summary: "Rotate a tenant's data key (as the platform admin)",
      tags: TAGS,
      params: TENANT_PARAMS,
      response: { 202: KEY_JOB },
    },
    handler: async (request, reply) => {
      const job = await rotation.rotate(
        await liveTenant(tenants, request.params.id),
        PLATFORM_ACTOR,
      );
      return reply.code(202).send(job);
    },
  });

  app.get<{ Params: { id: string } }>('/v1/platform/tenants/:id/keys', {
    config: { auth: 'admin' },
    schema: {
      summary: "A tenant's key versions and key jobs",
      tags: TAGS,
      params: TENANT_PARAMS,
      response: { 200: KEY_STATUS },
    },
    handler: async (request) => rotation.status(await liveTenant(tenants, request.params.id)),
  });

  app.get<{ Params: { id: string; jobId: string } }>('/v1/platform/tenants/:id/keys/jobs/:jobId', {
    config: { auth: 'admin' },
    schema: {
      summary: "Progress of a tenant's re-encryption job",
      tags: TAGS,
      params: TENANT_JOB_PARAMS,
      response: { 200: KEY_JOB },
    },
    handler: async (request) =>
      rotation.job(await liveTenant(tenants, request.params.id), request.params.jobId),
  });
}
