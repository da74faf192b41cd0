import type { DeviceApiEvents } from '../../listener/index.ts';
import type { log as Log } from '../log.ts';

/** What the device API's events become in the agent's JSON log: refusals say what to do. */
export function deviceApiEvents(log: typeof Log): DeviceApiEvents {
  return {
    refused(reason, detail, device) {
      const fields = { reason, detail, device: device?.deviceId ?? null };
      if (reason === 'outbox_full')
        log('warn', 'device-refused', {
          ...fields,
          action:
            'the outbox is full, so devices get no PUBACK and resend later: restore the link to the platform (see link-down) or raise --outbox-max-messages',
        });
      else if (reason === 'accept_failed')
        log('error', 'device-refused', {
          ...fields,
          action: 'the outbox could not take the message: check the disk (free space, permissions)',
        });
      else log('info', 'device-refused', fields);
    },
    credentialsRefreshed(devices) {
      log('info', 'credentials-refreshed', { devices });
    },
    credentialsFailed(error, cached, refreshedAt) {
      log('warn', 'credentials-stale', {
        message: (error as Error).message,
        cached,
        refreshedAt,
        action:
          'devices keep connecting with the cached credentials; new or revoked ones take effect once the platform is reachable again',
      });
    },
  };
}
