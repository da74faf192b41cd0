import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  loadSettings,
  openStores,
  revokeCookieSecrets,
  rotateAdminToken,
  rotateCookieSecrets,
  type Settings,
  type Stores,
} from '@palisade/server';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';
import { settingFlags, settingOptions } from '../settings-flags.ts';

const USAGE = `usage: palisade admin token --rotate [--data DIR | --database URL]
       palisade admin cookie-secret --rotate [--revoke-previous] [--tenant ID|SLUG] [--data DIR | --database URL]
  --revoke-previous   a leaked secret: the previous secrets verify nothing from now on, so
                      cookies they signed stop working at once (their users sign in again)`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `palisade admin token --rotate` and `palisade admin cookie-secret --rotate`: change the
 * platform-admin token, or retire (with `--revoke-previous`, delete) the tenant issuers'
 * cookie secrets, directly in the control plane (`--data` or `--database`), so they work with
 * the server running or not, and even when the old token is lost. A running server stops
 * honouring the old token within its auth cache TTL, and signs cookies with a new secret (and
 * verifies none with a revoked one) from its next request that uses cookies. A token the
 * `adminToken` setting gives is not rotated: the server would put it back at its next start.
 */
export async function adminCommand(argv: string[]): Promise<number> {
  const [noun, ...rest] = argv;
  if (wantsHelp(argv)) throw new CliError(USAGE, EXIT.ok);
  const { values } = parseArgs({
    args: rest,
    options: {
      ...settingOptions(),
      rotate: { type: 'boolean' },
      'revoke-previous': { type: 'boolean' },
      tenant: { type: 'string' },
    },
    strict: true,
  });
  const known = noun === 'token' || noun === 'cookie-secret';
  const cookieOnly = values.tenant !== undefined || values['revoke-previous'] !== undefined;
  if (!known || values.rotate !== true || (noun === 'token' && cookieOnly))
    throw new CliError(USAGE, EXIT.usage);
  const settings = loadSettings({
    flags: settingFlags(values),
    env: process.env,
    configFile: (values as Record<string, unknown>).config as string | undefined,
  });
  if (noun === 'token' && settings.adminToken !== undefined) {
    throw new CliError(
      'the platform-admin token is set by adminToken (--admin-token, PALISADE_ADMIN_TOKEN or ' +
        'the config file), and the server puts it back at every start: a rotation here would ' +
        'be undone. Change that setting and restart the server instead',
      EXIT.usage,
    );
  }
  const stores = await openPlatformStores(settings);
  try {
    if (noun === 'cookie-secret')
      return await rotateCookies(stores, values.tenant, values['revoke-previous'] === true);
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

/** The control plane of an existing platform: opening the stores of none would make one. */
async function openPlatformStores(settings: Settings): Promise<Stores> {
  const where = settings.database === undefined ? `data folder ${settings.data}` : 'that database';
  const noPlatform = new CliError(
    `no Palisade platform in ${where}: point --data DIR (or --database URL) at the server's; ` +
      'its first start prints the first token',
    EXIT.usage,
  );
  if (settings.database === undefined && !existsSync(join(settings.data, 'platform.db')))
    throw noPlatform;
  const stores = await openStores({ ...settings, shards: [] });
  if ((await stores.controlPlane.getAdminTokenHash()) === undefined) {
    await stores.close();
    throw noPlatform;
  }
  return stores;
}

async function rotateCookies(
  stores: Stores,
  tenantRef: string | undefined,
  revoke: boolean,
): Promise<number> {
  let tenantId: string | undefined;
  if (tenantRef !== undefined) {
    const tenant = UUID.test(tenantRef)
      ? await stores.controlPlane.getTenant(tenantRef)
      : await stores.controlPlane.identity.tenantBySlug(tenantRef);
    if (tenant === undefined || tenant.status === 'deleted')
      throw new CliError(`no tenant ${JSON.stringify(tenantRef)}; see: palisade tenant list`);
    tenantId = tenant.id;
  }
  const store = stores.controlPlane.identity;
  if (revoke) {
    const revoked = await revokeCookieSecrets(store, tenantId);
    process.stdout.write(`revoked ${revoked} cookie secret${revoked === 1 ? '' : 's'}\n`);
    process.stderr.write(
      'From its next request that uses cookies, each server signs with a new secret and ' +
        'refuses every cookie the revoked ones signed: those users sign in again.\n',
    );
    return EXIT.ok;
  }
  const retired = await rotateCookieSecrets(store, tenantId);
  process.stdout.write(`retired ${retired} cookie secret${retired === 1 ? '' : 's'}\n`);
  process.stderr.write(
    'Each server signs cookies with a new secret from its next request that uses cookies; ' +
      'cookies the retired ones signed still verify until they expire.\n',
  );
  return EXIT.ok;
}
