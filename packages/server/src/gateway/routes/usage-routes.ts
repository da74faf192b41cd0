import type { FastifyInstance } from 'fastify';
import type { TelemetryQuotas } from '../../quotas/index.ts';
import { tenantOf } from '../auth-hook.ts';

const RATE = { type: 'integer', description: 'per second; 0 is unlimited' } as const;
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
  required: ['tenant', 'plan', 'limits', 'window', 'messages', 'points'],
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
        'burstSeconds',
      ],
      properties: {
        tenantMessagesPerSecond: RATE,
        tenantPointsPerSecond: RATE,
        deviceMessagesPerSecond: RATE,
        devicePointsPerSecond: RATE,
        burstSeconds: { type: 'integer' },
      },
    },
    window: {
      type: 'object',
      required: ['start', 'durationMs'],
      properties: { start: { type: 'string' }, durationMs: { type: 'integer' } },
    },
    messages: COUNTS,
    points: COUNTS,
  },
} as const;

/** `GET /v1/usage`: the caller's tenant plan, its telemetry rate limits and this window's usage. */
export function usageRoutes(app: FastifyInstance, quotas: TelemetryQuotas): void {
  app.get('/v1/usage', {
    config: { auth: 'usage:read' },
    schema: {
      summary: "The tenant's plan, its telemetry rate limits and the current window's usage",
      tags: ['usage'],
      response: { 200: USAGE },
    },
    handler: async (request) => {
      const context = tenantOf(request);
      return { tenant: context.tenantId, ...quotas.usage(context) };
    },
  });
}
