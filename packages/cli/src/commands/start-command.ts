import { parseArgs } from 'node:util';
import { loadSettings, startPlatform } from '@palisade/server';
import { settingFlags, settingOptions } from '../settings-flags.ts';

/**
 * `palisade start`: the roles of `--role` (every role by default) in one process. Prints a generated admin token once (to
 * stderr, never into the JSON log), then serves until SIGTERM or SIGINT, on which it stops
 * accepting requests, lets in-flight writes commit and closes the stores.
 */
export async function startCommand(argv: string[]): Promise<number> {
  // Tenant files, keys and logs under DATA are for this user only (files 0600, folders 0700).
  process.umask(0o077);
  const { values } = parseArgs({
    args: argv,
    options: settingOptions(),
    strict: true,
    allowPositionals: false,
  });
  const settings = loadSettings({
    flags: settingFlags(values),
    env: process.env,
    configFile: typeof values.config === 'string' ? values.config : undefined,
  });
  const platform = await startPlatform(settings);
  if (platform.generatedAdminToken !== undefined) {
    process.stderr.write(
      `\nPlatform-admin token (shown once; only its hash is stored):\n\n  ${platform.generatedAdminToken}\n\n` +
        'Keep it secret. Make a new one with: palisade admin token --rotate\n\n',
    );
  }
  const { roles } = platform;
  platform.http.log.info(
    {
      roles: roles.name,
      process: roles.processId,
      url: roles.api ? platform.url : undefined,
      mqtt: platform.mqtt?.url,
      mqttTls: platform.mqtt?.tlsUrl,
      mqttWs: platform.mqtt?.wsUrl,
      data: settings.data,
      shards: platform.stores.shards.size,
    },
    // A worker alone listens on nothing.
    roles.api || roles.ingest ? 'palisade is listening' : 'palisade is running',
  );
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      platform.http.log.info({ signal }, 'shutting down: finishing in-flight writes');
      platform.close().then(
        () => resolve(0),
        (error) => {
          platform.http.log.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
