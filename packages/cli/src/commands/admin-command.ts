import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSettings, openStores, rotateAdminToken } from '@palisade/server';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';
import { settingFlags, settingOptions } from '../settings-flags.ts';

const USAGE = 'usage: palisade admin token --rotate [--data DIR | --database URL]';

/**
 * `palisade admin token --rotate`: replaces the platform-admin token directly in the control
 * plane (`--data` or `--database`), so it works even when the old token is lost. A running
 * server stops honouring the old token within its auth cache TTL.
 */
export async function adminCommand(argv: string[]): Promise<number> {
  const [noun, ...rest] = argv;
  if (wantsHelp(argv)) throw new CliError(USAGE, EXIT.ok);
  const { values } = parseArgs({
    args: rest,
    options: { ...settingOptions(), rotate: { type: 'boolean' } },
    strict: true,
  });
  if (noun !== 'token' || values.rotate !== true) {
    throw new CliError(USAGE, EXIT.usage);
  }
  const settings = loadSettings({
    flags: settingFlags(values),
    env: process.env,
    configFile: (values as Record<string, unknown>).config as string | undefined,
  });
  const where = settings.database === undefined ? `data folder ${settings.data}` : 'that database';
  const noPlatform = new CliError(
    `no Palisade platform in ${where}: point --data DIR (or --database URL) at the server's; ` +
      'its first start prints the first token',
    EXIT.usage,
  );
  // Opening the stores would make an empty platform, and its token would open nothing.
  if (settings.database === undefined && !existsSync(join(settings.data, 'platform.db')))
    throw noPlatform;
  const stores = await openStores({ ...settings, shards: [] });
  try {
    if ((await stores.controlPlane.getAdminTokenHash()) === undefined) throw noPlatform;
    const token = await rotateAdminToken(stores.controlPlane);
    process.stdout.write(`${token}\n`);
    process.stderr.write(
      'The previous platform-admin token no longer works. Store this one now: it is not shown again.\n',
    );
    return EXIT.ok;
  } finally {
    await stores.close();
  }
}
