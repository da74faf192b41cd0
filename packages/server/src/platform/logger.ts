import pino, { type Logger } from 'pino';
import type { Settings } from '../config/index.ts';

/** The platform's own logger, when the caller brings none: secrets redacted, no query strings. */
export function platformLogger(settings: Settings): Logger {
  return pino({
    level: settings.logLevel,
    redact: { paths: ['req.headers.authorization', '*.secret', '*.token'], censor: '[redacted]' },
    // Query strings can carry filter values of encrypted fields: log paths only.
    serializers: { req: requestWithoutQuery },
  });
}

/** Fastify's request log fields, with the path but never the query string. */
function requestWithoutQuery(req: {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}) {
  return {
    method: req.method,
    // ThingsBoard's device API carries the device's access token in the path, and a user
    // invitation link its one-time token.
    url: req.url
      ?.split('?')[0]
      ?.replace(/^\/api\/v1\/[^/]+\//, '/api/v1/[redacted]/')
      .replace(/^(\/t\/[^/]+\/invite\/)[^/]+/, '$1[redacted]'),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
