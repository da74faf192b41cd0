import type { Logger } from 'pino';
import type { Bus } from '../bus/index.ts';
import { uuid7 } from '../ids/index.ts';
import type { TelemetryPoint } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';

/** What a `telemetry` bus event carries: the device and the points it sent. */
export interface TelemetryEventPayload {
  readonly deviceId: string;
  readonly points: readonly TelemetryPoint[];
}

/** The bus event id prefix of telemetry events; the rest is a UUIDv7, so ids sort by time. */
export const TELEMETRY_EVENT_ID = ':telemetry:';

/** Publishes committed points on the bus (kind `telemetry`) for live consumers. */
export function publishTelemetry(
  bus: Bus,
  logger: Logger | undefined,
  context: TenantContext,
  payload: TelemetryEventPayload,
): void {
  bus
    .publish(context, {
      kind: 'telemetry',
      key: [payload.deviceId],
      id: `${context.tenantId}${TELEMETRY_EVENT_ID}${uuid7()}`,
      payload,
    })
    .catch((error: unknown) =>
      logger?.warn({ code: (error as { code?: unknown }).code }, 'telemetry: bus publish failed'),
    );
}
