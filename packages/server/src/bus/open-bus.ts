import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Settings } from '../config/index.ts';
import type { Bus, BusLimits } from './bus.ts';
import { InProcessBus } from './in-process/in-process-bus.ts';
import { NatsBus } from './nats/nats-bus.ts';

/** The shared limits of the `bus*` settings. */
export function busLimits(settings: Settings): BusLimits {
  return {
    prefix: settings.busPrefix,
    ackWaitMs: settings.busAckWaitMs,
    maxDeliver: settings.busMaxDeliver,
    maxAgeMs: settings.busMaxAgeMs,
    maxPayload: settings.busMaxPayload,
    retryMs: settings.busRetryMs,
  };
}

/**
 * NATS JetStream when `nats` is set, else the in-process bus in `DATA/bus.db`. A message a
 * consumer gives up on is logged as a warning.
 */
export async function openBus(settings: Settings, logger: Logger): Promise<Bus> {
  const limits: BusLimits = {
    ...busLimits(settings),
    onGiveUp: (given) =>
      logger.warn(
        { bus: given },
        'bus: a consumer gave up on a message after busMaxDeliver deliveries',
      ),
  };
  if (settings.nats !== undefined) {
    return NatsBus.open({
      ...limits,
      url: settings.nats,
      duplicateWindowMs: settings.busDuplicateWindowMs,
    });
  }
  return new InProcessBus(join(settings.data, 'bus.db'), limits);
}
