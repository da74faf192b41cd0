import type { FastifyInstance } from 'fastify';
import type { RequestQuotas, TelemetryQuotas } from '../../quotas/index.ts';
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
  required: ['tenant', 'plan', 'limits', 'window', 'messages', 'points', 'requests'],
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
      ],
      properties: {
        tenantMessagesPerSecond: RATE,
        tenantPointsPerSecond: RATE,
        deviceMessagesPerSecond: RATE,
        devicePointsPerSecond: RATE,
        tenantRequestsPerSecond: RATE,
        principalRequestsPerSecond: RATE,
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
    requests: { ...COUNTS, description: 'API requests of all the tenant credentials' },
  },
} as const;

/**
 * `GET /v1/usage`: the caller's tenant plan, its telemetry and request rate limits and this
 * window's usage.
 */
export function usageRoutes(
  app: FastifyInstance,
  telemetry: TelemetryQuotas,
  requests: RequestQuotas,
): void {
  app.get('/v1/usage', {
    config: { auth: 'usage:read' },
    schema: {
      summary: "The tenant's plan, its rate limits and the current window's usage",
      tags: ['usage'],
      response: { 200: USAGE },
    },
    handler: async (request) => {
      const context = tenantOf(request);
      return {
        tenant: context.tenantId,
        ...telemetry.usage(context),
        requests: requests.usage(context),
      };
    },
  });
}
