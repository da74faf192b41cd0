import { randomBytes } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authorizer } from '../../authz/index.ts';
import type { Subscription } from '../../bus/index.ts';
import type { CredentialVerifier } from '../../control/index.ts';
import {
  type DeviceServices,
  TELEMETRY_EVENT_ID,
  type TelemetryEventPayload,
} from '../../devices/index.ts';
import { PalisadeError } from '../../errors/index.ts';
import type { MaybePromise } from '../../maybe-promise/index.ts';
import type { Aggregate, AggregateRow, TelemetryPoint } from '../../store/index.ts';
import { tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { mediaResponse, NO_BODY, UUID } from '../schemas.ts';

const TAGS = ['telemetry'];
const KEYS = { type: 'string', maxLength: 4096, pattern: '^[A-Za-z0-9_.:,-]*$' } as const;
const SERIES = {
  type: 'object',
  description: 'key → points, oldest first (ThingsBoard timeseries format)',
  additionalProperties: {
    type: 'array',
    items: {
      type: 'object',
      required: ['ts', 'value'],
      properties: { ts: { type: 'integer' }, value: {} },
    },
  },
} as const;
const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: UUID },
} as const;
const TOKEN_PARAMS = {
  type: 'object',
  required: ['deviceToken'],
  properties: { deviceToken: { type: 'string', minLength: 1, maxLength: 512 } },
} as const;
const ANY_JSON = {
  description: 'ThingsBoard payload: {"k":v}, {"ts":ms,"values":{…}}, or an array of those',
};

/** Request log fields of the device-token routes: the token in the path never reaches a log. */
function redactedRequest(req: { method?: string; url?: string; ip?: string }) {
  return {
    method: req.method,
    url: req.url?.replace(/^\/api\/v1\/[^/?]+/, '/api/v1/[redacted]').split('?')[0],
    remoteAddress: req.ip,
  };
}

function splitKeys(keys: string | undefined): string[] {
  return keys === undefined || keys === '' ? [] : keys.split(',').filter((k) => k !== '');
}

function series(rows: readonly (TelemetryPoint | AggregateRow)[]) {
  const out: Record<string, { ts: number; value: unknown }[]> = {};
  for (const row of rows) {
    out[row.key] ??= [];
    out[row.key]!.push({ ts: row.ts, value: row.value });
  }
  return out;
}

/**
 * Refuses an aggregation whose range holds more buckets of `interval` than `limit`: each key
 * could then not be answered whole, and the store would group that many per key.
 */
function checkBuckets(span: number, interval: number, limit: number): void {
  const buckets = Math.ceil(span / interval);
  if (buckets <= limit) return;
  throw new PalisadeError(
    'PALISADE_INVALID_REQUEST',
    `/querystring/interval makes ${buckets} buckets of [from, to), more than limit (${limit})`,
    [{ path: '/querystring/interval', message: `must make at most limit (${limit}) buckets` }],
  );
}

/**
 * Telemetry over HTTP: ThingsBoard's device API (`/api/v1/{deviceToken}/…`, authenticated by
 * the token in the path), tenant-side ingest and queries, and the tenant's live stream (SSE).
 */
export function telemetryRoutes(
  app: FastifyInstance,
  options: {
    readonly devices: DeviceServices;
    readonly authorizer: Authorizer;
    readonly verifier: CredentialVerifier;
    readonly pageSizeMax: number;
  },
): void {
  const { devices, authorizer, verifier, pageSizeMax } = options;
  app.addHook('preClose', async () => devices.liveStreams.endAll());

  const device = async (request: FastifyRequest<{ Params: { deviceToken: string } }>) => {
    const identity = await devices.authority.byAccessToken(request.params.deviceToken);
    if (identity === undefined)
      throw new PalisadeError(
        'PALISADE_DEVICE_UNAUTHENTICATED',
        'the device access token is unknown or revoked',
      );
    // Decided as the device's MQTT messages are: telemetry:write on itself, from this address.
    if (!(await authorizer.decideDevice(identity, 'telemetry:write', request.ip, Date.now())))
      throw new PalisadeError(
        'PALISADE_FORBIDDEN',
        "the tenant's policies do not allow telemetry:write here; GET /v1/policies shows them",
      );
    return identity;
  };

  app.post<{ Params: { deviceToken: string } }>('/api/v1/:deviceToken/telemetry', {
    config: { auth: 'public' },
    logSerializers: { req: redactedRequest },
    schema: {
      summary: 'ThingsBoard HTTP telemetry: answered once the points are durable and ledgered',
      tags: TAGS,
      params: TOKEN_PARAMS,
      body: ANY_JSON,
      response: { 200: NO_BODY },
    },
    handler: async (request, reply) => {
      await devices.telemetry.telemetry(await device(request), request.body);
      return reply.code(200).send();
    },
  });

  app.post<{ Params: { deviceToken: string } }>('/api/v1/:deviceToken/attributes', {
    config: { auth: 'public' },
    logSerializers: { req: redactedRequest },
    schema: {
      summary: 'ThingsBoard HTTP client attributes',
      tags: TAGS,
      params: TOKEN_PARAMS,
      body: { description: 'a flat JSON object' },
      response: { 200: NO_BODY },
    },
    handler: async (request, reply) => {
      await devices.telemetry.attributes(await device(request), request.body);
      return reply.code(200).send();
    },
  });

  app.post<{ Params: { id: string } }>('/v1/devices/:id/telemetry', {
    config: { auth: 'telemetry:write' },
    schema: {
      summary: 'Send telemetry for a device with a tenant credential',
      tags: TAGS,
      params: ID_PARAMS,
      body: ANY_JSON,
      response: {
        200: { type: 'object', required: ['points'], properties: { points: { type: 'integer' } } },
      },
    },
    handler: async (request) =>
      devices.telemetry.ingest(tenantOf(request), request.params.id, request.body),
  });

  app.get<{
    Params: { id: string };
    Querystring: {
      keys?: string;
      from: number;
      to: number;
      interval?: number;
      agg?: Aggregate;
      limit: number;
    };
  }>('/v1/devices/:id/telemetry', {
    config: { auth: 'telemetry:read' },
    schema: {
      summary:
        'Points in [from, to) (Unix ms), raw or aggregated per interval (buckets from `from`, at most `limit` of them)',
      tags: TAGS,
      params: ID_PARAMS,
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['from', 'to'],
        properties: {
          keys: KEYS,
          from: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          to: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          interval: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          agg: { type: 'string', enum: ['avg', 'min', 'max', 'sum', 'count'] },
          limit: { type: 'integer', minimum: 1, maximum: pageSizeMax, default: pageSizeMax },
        },
      },
      response: { 200: SERIES },
    },
    handler: async (request) => {
      const { keys, from, to, interval, agg, limit } = request.query;
      if (to <= from)
        throw new PalisadeError('PALISADE_INVALID_REQUEST', '/querystring/to must be after from', [
          { path: '/querystring/to', message: 'must be greater than from' },
        ]);
      if (interval !== undefined) checkBuckets(to - from, interval, limit);
      return series(
        await devices.telemetryQueries.query(tenantOf(request), request.params.id, {
          keys: splitKeys(keys),
          from,
          to,
          interval,
          agg,
          limit,
        }),
      );
    },
  });

  app.get<{ Params: { id: string }; Querystring: { keys?: string } }>(
    '/v1/devices/:id/telemetry/latest',
    {
      config: { auth: 'telemetry:read' },
      schema: {
        summary: 'The newest point of each key',
        tags: TAGS,
        params: ID_PARAMS,
        querystring: { type: 'object', additionalProperties: false, properties: { keys: KEYS } },
        response: { 200: SERIES },
      },
      handler: async (request) =>
        series(
          await devices.telemetryQueries.latest(
            tenantOf(request),
            request.params.id,
            splitKeys(request.query.keys),
          ),
        ),
    },
  );

  app.get<{ Querystring: { deviceId?: string } }>('/v1/telemetry/stream', {
    config: { auth: 'telemetry:read' },
    schema: {
      summary:
        "Server-sent events: the tenant's accepted telemetry from now on (event `telemetry`), of the devices whose telemetry the caller may read",
      tags: TAGS,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { deviceId: { type: 'string', pattern: '^[0-9a-f-]{36}$' } },
      },
      response: {
        200: mediaResponse(
          'text/event-stream',
          'server-sent events: `telemetry` events whose data is a JSON point batch, heartbeats as comments',
          { type: 'string' },
        ),
      },
    },
    handler: async (request, reply) => {
      const principal = tenantPrincipalOf(request);
      const { context } = principal;
      const only = request.query.deviceId;
      // The route decided the stream; each device's telemetry is decided as its own route's is,
      // and the stream itself again under every policy state loaded while it is open.
      const reads = authorizer.deviceStream(principal, 'telemetry:read', only);
      const allowed = async (decision: () => MaybePromise<boolean>) => {
        try {
          return await decision();
        } catch {
          return false;
        }
      };
      const authorization = request.headers.authorization;
      const durable = `sse-${randomBytes(12).toString('hex')}`;
      const raw = reply.raw;
      let open = true;
      let heartbeat: NodeJS.Timeout | undefined;
      let subscription: Subscription | undefined;
      const unsubscribe = () =>
        subscription
          ?.stop()
          .then(() => devices.bus.platform.deleteConsumer(durable, context.tenantId))
          .catch(() => undefined);
      // Callable at any point from here on: before the stream's head is written (its tenant
      // deleted, the server closing, its consumer not made), it only gives back its place.
      const end = () => {
        if (!open) return;
        open = false;
        devices.liveStreams.remove(context.tenantId, end);
        clearInterval(heartbeat);
        if (raw.headersSent) raw.end();
        void unsubscribe();
      };
      // The stream lives no longer than its credential and its authorization: revoked, expired,
      // its tenant suspended or its policies forbidding it now, it ends at its next event or
      // heartbeat, before anything more is written; its tenant deleted, at once.
      const live = async () => {
        if (
          !(await verifier.current(authorization, context)) ||
          !(await allowed(() => reads.allowsStream()))
        )
          end();
        return open;
      };
      const write = async (text: string) => {
        if (await live()) raw.write(text);
      };
      // The place is taken before the consumer is made, so concurrent requests cannot pass
      // the cap together.
      devices.liveStreams.add(context, end);
      try {
        subscription = await devices.bus.subscribe(context, {
          durable,
          kind: 'telemetry',
          from: 'new',
          transient: true,
          handler: async (message) => {
            await message.ack();
            const at = message.id.indexOf(TELEMETRY_EVENT_ID);
            const id = at < 0 ? '' : message.id.slice(at + TELEMETRY_EVENT_ID.length);
            const payload = message.payload as TelemetryEventPayload;
            if (!open || (only !== undefined && payload.deviceId !== only)) return;
            const shown = await allowed(() => reads.allows(payload.deviceId));
            if ((await live()) && shown)
              raw.write(`id: ${id}\nevent: telemetry\ndata: ${JSON.stringify(payload)}\n\n`);
          },
        });
      } catch (error) {
        end();
        throw error;
      }
      if (!open) {
        void unsubscribe();
        throw new PalisadeError('PALISADE_UNAVAILABLE', 'the stream was ended as it opened');
      }
      reply.hijack();
      raw.writeHead(200, {
        ...(reply.getHeaders() as OutgoingHttpHeaders),
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      raw.write(': connected\n\n');
      heartbeat = setInterval(() => void write(': heartbeat\n\n'), devices.streamHeartbeatMs);
      request.raw.on('close', end);
      raw.on('close', end);
      // A client gone while the subscription was made closed before these listeners existed.
      if (request.raw.socket.destroyed) end();
    },
  });
}
