import type { Kms } from '@palisade/crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BusError, connectNats, type NatsLink } from '../bus/index.ts';
import type { Settings } from '../config/index.ts';
import { InternalChannel } from './internal-channel.ts';
import { ServiceTokens } from './service-token.ts';

/** An open internal channel and the connection it owns. */
export interface OpenChannel {
  readonly channel: InternalChannel;
  close(): Promise<void>;
}

/**
 * Connects the internal channel to `settings.nats` (its own connection, apart from the
 * bus's), signing as `sender` with the service-token key of `kms`.
 */
export async function openInternalChannel(options: {
  readonly settings: Settings;
  readonly kms: Kms;
  readonly sender: { readonly role: string; readonly pid: string };
  readonly logger: Logger;
  readonly metrics?: Registry | undefined;
}): Promise<OpenChannel> {
  const { settings } = options;
  if (settings.nats === undefined) throw new Error('the internal channel needs settings.nats');
  let link: NatsLink;
  try {
    link = await connectNats(settings.nats, `palisade-${settings.busPrefix}-internal`);
  } catch (error) {
    throw new BusError(
      'PALISADE_BUS_UNAVAILABLE',
      `connecting to NATS at ${new URL(settings.nats).host}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const channel = new InternalChannel({
    nc: link.nc,
    prefix: settings.busPrefix,
    tokens: new ServiceTokens(options.kms, options.sender, settings.serviceTokenTtlMs),
    requestTimeoutMs: settings.internalRequestTimeoutMs,
    logger: options.logger,
    metrics: options.metrics,
  });
  return {
    channel,
    close: () => link.close(),
  };
}
