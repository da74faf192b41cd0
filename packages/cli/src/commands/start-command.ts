import { parseArgs } from 'node:util';
import { loadSettings, SETTINGS, startPlatform } from '@palisade/server';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';
import { settingFlags, settingOptions } from '../settings-flags.ts';

/**
 * `palisade start`: the roles of `--role` (every role by default) in one process. Prints a generated admin token once (to
 * stderr, never into the JSON log), then serves until SIGTERM or SIGINT, on which it stops
 * accepting requests, lets in-flight writes commit and closes the stores.
 */
export async function startCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) throw new CliError(startUsage(), EXIT.ok);
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

/** Every setting as a flag, with its environment variable and what it means. */
function startUsage(): string {
  const lines = Object.values(SETTINGS).map(
    (spec) => `  --${spec.flag} (${spec.env})\n      ${spec.doc}`,
  );
  return [
    'usage: palisade start [--config FILE] [--SETTING VALUE]...',
    'Flags beat environment variables, which beat palisade.config.json in the working directory',
    '(or --config FILE, keyed by the setting names of the README), which beats the defaults.',
    ...lines,
  ].join('\n');
}
