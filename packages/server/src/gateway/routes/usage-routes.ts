import type { FastifyInstance } from 'fastify';
import type { Authorizer, DeviceEntity } from '../../authz/index.ts';
import type { LiveStreams } from '../../devices/index.ts';
import type { RequestQuotas, TelemetryQuotas } from '../../quotas/index.ts';
import type { TenantContext } from '../../tenancy/index.ts';
import { tenantOf, tenantPrincipalOf } from '../auth-hook.ts';

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
  required: ['tenant', 'plan', 'limits', 'window', 'messages', 'points', 'requests', 'streams'],
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
        'telemetryStreamsMax',
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
        telemetryStreamsMax: {
          type: 'integer',
          description:
            'most live telemetry streams open at once in one server process; 0 is unlimited',
        },
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
    streams: {
      type: 'object',
      description: 'live telemetry streams of the tenant open in the process that answers',
      required: ['open', 'max'],
      properties: { open: { type: 'integer' }, max: CAP },
    },
  },
} as const;
const HELD = {
  type: 'object',
  description:
    'what the tenant holds now that the caller may read (as GET /v1/devices and GET /v1/collections list it), against devicesMax and collectionsMax, which count everything',
  required: ['tenant', 'devices', 'collections'],
  properties: {
    tenant: { type: 'string' },
    devices: {
      type: 'object',
      required: ['count', 'max'],
      properties: { count: { type: 'integer' }, max: CAP },
    },
    collections: {
      type: 'object',
      required: ['count', 'max'],
      properties: { count: { type: 'integer' }, max: CAP },
    },
  },
} as const;

/**
 * Counts of what a tenant holds that a caller may read (the device registry's and the
 * collection service's), and the authorizer that decides each item as its listing does.
 */
export interface HeldObjects {
  readonly devices: {
    count(context: TenantContext, readable: (device: DeviceEntity) => boolean): Promise<number>;
  };
  readonly collections: {
    count(context: TenantContext, readable: (name: string) => boolean): Promise<number>;
  };
  readonly authorizer: Authorizer;
}

/**
 * `GET /v1/usage`: the caller's tenant plan, its rate limits and object caps, this window's
 * usage and its live telemetry streams, all from memory (no storage: the gateway benchmark's
 * probe route); and `GET /v1/usage/objects`: what the tenant holds against its caps, counted
 * in its store.
 */
export function usageRoutes(
  app: FastifyInstance,
  telemetry: TelemetryQuotas,
  requests: RequestQuotas,
  streams: LiveStreams,
  held: HeldObjects,
): void {
  app.get('/v1/usage', {
    config: { auth: 'usage:read' },
    schema: {
      summary: "The tenant's plan, its rate limits and caps and the current window's usage",
      tags: ['usage'],
      response: { 200: USAGE },
    },
    handler: async (request) => {
      const context = tenantOf(request);
      const usage = telemetry.usage(context);
      return {
        tenant: context.tenantId,
        ...usage,
        requests: requests.usage(context),
        streams: {
          open: streams.openOf(context.tenantId),
          max: usage.limits.telemetryStreamsMax,
        },
      };
    },
  });
  app.get('/v1/usage/objects', {
    config: { auth: 'usage:read' },
    schema: {
      summary: "What the tenant holds (devices, collections) against its plan's caps",
      tags: ['usage'],
      response: { 200: HELD },
    },
    handler: async (request) => {
      const context = tenantOf(request);
      const principal = tenantPrincipalOf(request);
      const { limits } = telemetry.usage(context);
      // Only what the caller may read is counted, decided as GET /v1/devices and
      // GET /v1/collections decide it: a count never tells of an item a listing would hide.
      const [devices, collections] = await Promise.all([
        held.authorizer
          .deviceReads(principal, 'devices:read')
          .then((readable) => held.devices.count(context, readable)),
        held.authorizer
          .itemReads(principal, 'collections:read')
          .then((readable) => held.collections.count(context, readable)),
      ]);
      return {
        tenant: context.tenantId,
        devices: { count: devices, max: limits.devicesMax },
        collections: { count: collections, max: limits.collectionsMax },
      };
    },
  });
}
