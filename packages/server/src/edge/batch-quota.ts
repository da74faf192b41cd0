import type { TelemetryService } from '../devices/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { ParsedMessage } from './batch-messages.ts';

/** What a batch was charged: its valid telemetry messages and their points. */
export interface BatchCharge {
  readonly messages: number;
  readonly points: number;
}

/**
 * Charges a new batch's valid telemetry messages to the tenant's plan rates, or refuses it
 * whole (429) before anything is written; returns what it charged. Reserved up front
 * rather than charged after the commit, so that batches committing at once cannot all pass
 * on the same tokens. Client attributes are not charged (as when a device sends them
 * directly).
 */
export function chargeBatch(
  telemetry: TelemetryService,
  context: TenantContext,
  parsed: readonly ParsedMessage[],
): BatchCharge {
  const quotas = telemetry.quotas;
  let messages = 0;
  let points = 0;
  for (const p of parsed) {
    if (!Array.isArray(p)) continue;
    messages++;
    points += p.length;
  }
  if (quotas === undefined || messages === 0) return { messages: 0, points: 0 };
  quotas.admitBatch(context, messages, points);
  return { messages, points };
}

/** Gives back part of what {@link chargeBatch} charged. */
export function refundBatch(
  telemetry: TelemetryService,
  context: TenantContext,
  messages: number,
  points: number,
): void {
  if (messages > 0 || points > 0) telemetry.quotas?.refundBatch(context, messages, points);
}
