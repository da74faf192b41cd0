import type { FastifyInstance } from 'fastify';
import type { RequestQuotas, TelemetryQuotas } from '../../quotas/index.ts';
import type { TenantContext } from '../../tenancy/index.ts';
import { tenantOf } from '../auth-hook.ts';

const RATE = { type: 'integer', description: 'per second; 0 is unlimited' } as const;
const CAP = { type: 'integer', description: 'most the tenant may hold; 0 is unlimited' } as const;
const COUNTS = {
  type: 'object',
  required: ['accepted', 'refused', 'remaining'],
  properties: {
    accepted: { type: 'integer' },
    refused: { type: 'integer' },
    remaining: {
      type: ['integer', 'null'],
      description: 'what the tenant bucket holds now; null when unlimited',
    },
  },
} as const;
const USAGE = {
  type: 'object',
  required: ['tenant', 'plan', 'limits', 'window', 'messages', 'points', 'requests', 'objects'],
  properties: {
    tenant: { type: 'string' },
    plan: { type: 'string' },
    limits: {
      type: 'object',
      required: [
        'tenantMessagesPerSecond',
        'tenantPointsPerSecond',
        'deviceMessagesPerSecond',
        'devicePointsPerSecond',
        'tenantRequestsPerSecond',
        'principalRequestsPerSecond',
        'burstSeconds',
        'devicesMax',
        'collectionsMax',
      ],
      properties: {
        tenantMessagesPerSecond: RATE,
        tenantPointsPerSecond: RATE,
        deviceMessagesPerSecond: RATE,
        devicePointsPerSecond: RATE,
        tenantRequestsPerSecond: RATE,
        principalRequestsPerSecond: RATE,
        burstSeconds: { type: 'integer' },
        devicesMax: CAP,
        collectionsMax: CAP,
      },
    },
    window: {
      type: 'object',
      required: ['start', 'durationMs'],
      properties: { start: { type: 'string' }, durationMs: { type: 'integer' } },
    },
    messages: COUNTS,
    points: COUNTS,
    requests: { ...COUNTS, description: 'API requests of all the tenant credentials' },
    objects: {
      type: 'object',
      description: 'what the tenant holds now, against devicesMax and collectionsMax',
      required: ['devices', 'collections'],
      properties: { devices: { type: 'integer' }, collections: { type: 'integer' } },
    },
  },
} as const;

/** Counts of what a tenant holds (the device registry's and the collection service's). */
export interface HeldObjects {
  readonly devices: { count(context: TenantContext): Promise<number> };
  readonly collections: { count(context: TenantContext): Promise<number> };
}

/**
 * `GET /v1/usage`: the caller's tenant plan, its rate limits and object caps, this window's
 * usage and what the tenant holds.
 */
export function usageRoutes(
  app: FastifyInstance,
  telemetry: TelemetryQuotas,
  requests: RequestQuotas,
  held: HeldObjects,
): void {
  app.get('/v1/usage', {
    config: { auth: 'usage:read' },
    schema: {
      summary:
        "The tenant's plan, its rate limits and caps, the current window's usage and what it holds",
      tags: ['usage'],
      response: { 200: USAGE },
    },
    handler: async (request) => {
      const context = tenantOf(request);
      const [devices, collections] = await Promise.all([
        held.devices.count(context),
        held.collections.count(context),
      ]);
      return {
        tenant: context.tenantId,
        ...telemetry.usage(context),
        requests: requests.usage(context),
        objects: { devices, collections },
      };
    },
  });
}
