import type { Tenant } from '@palisade/server';
import { type Connection, callApi, connectionFrom, parseApiArgs } from '../api-client.ts';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';

const USAGE = `usage: palisade tenant <command> [--url URL] [--token TOKEN] [--json]
  create --slug SLUG --name NAME [--plan PLAN]
  list
  show ID|SLUG
  suspend ID|SLUG
  resume ID|SLUG
  delete ID|SLUG --yes`;

const SUBCOMMANDS = new Set(['create', 'list', 'show', 'suspend', 'resume', 'delete']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function* allTenants(connection: Connection): AsyncGenerator<Tenant> {
  let cursor: string | null = null;
  do {
    // No `limit`: the server's default page size always fits its `page-size-max` setting.
    const query: string = cursor === null ? '' : `?cursor=${encodeURIComponent(cursor)}`;
    const page: { items: Tenant[]; nextCursor: string | null } = await callApi(
      connection,
      'GET',
      `/v1/platform/tenants${query}`,
    );
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor !== null);
}

export async function resolveTenant(
  connection: Connection,
  ref: string | undefined,
): Promise<Tenant> {
  if (ref === undefined) throw new CliError(`name the tenant by id or slug\n${USAGE}`, EXIT.usage);
  if (UUID.test(ref)) return callApi(connection, 'GET', `/v1/platform/tenants/${ref}`);
  for await (const tenant of allTenants(connection)) if (tenant.slug === ref) return tenant;
  throw new CliError(`no tenant with slug ${JSON.stringify(ref)}; see: palisade tenant list`);
}

function printTenants(tenants: Tenant[], json: boolean): void {
  if (json) {
    process.stdout.write(
      `${JSON.stringify(tenants.length === 1 ? tenants[0] : tenants, null, 2)}\n`,
    );
    return;
  }
  const rows = [
    ['ID', 'SLUG', 'NAME', 'PLAN', 'STATUS', 'SHARD'],
    ...tenants.map((t) => [t.id, t.slug, t.name, t.plan, t.status, t.shard]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows)
    process.stdout.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
}

/** `palisade tenant …`: tenant lifecycle against a running server. */
export async function tenantCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (wantsHelp(argv)) throw new CliError(USAGE, EXIT.ok);
  const { values, positionals } = parseApiArgs(rest, {
    json: { type: 'boolean' },
    slug: { type: 'string' },
    name: { type: 'string' },
    plan: { type: 'string' },
    yes: { type: 'boolean' },
  });
  if (sub === undefined || !SUBCOMMANDS.has(sub)) throw new CliError(USAGE, EXIT.usage);
  const json = values.json === true;
  const connection = connectionFrom(values, process.env);
  switch (sub) {
    case 'create': {
      if (values.slug === undefined || values.name === undefined)
        throw new CliError(`create needs --slug and --name\n${USAGE}`, EXIT.usage);
      const tenant = await callApi<Tenant>(connection, 'POST', '/v1/platform/tenants', {
        slug: values.slug,
        name: values.name,
        ...(values.plan === undefined ? {} : { plan: values.plan }),
      });
      printTenants([tenant], json);
      return EXIT.ok;
    }
    case 'list': {
      const tenants: Tenant[] = [];
      for await (const tenant of allTenants(connection)) tenants.push(tenant);
      if (json) process.stdout.write(`${JSON.stringify(tenants, null, 2)}\n`);
      else printTenants(tenants, false);
      return EXIT.ok;
    }
    case 'show':
      printTenants([await resolveTenant(connection, positionals[0])], json);
      return EXIT.ok;
    case 'suspend':
    case 'resume': {
      const tenant = await resolveTenant(connection, positionals[0]);
      const status = sub === 'suspend' ? 'suspended' : 'active';
      printTenants(
        [
          await callApi<Tenant>(connection, 'PATCH', `/v1/platform/tenants/${tenant.id}`, {
            status,
          }),
        ],
        json,
      );
      return EXIT.ok;
    }
    case 'delete': {
      const tenant = await resolveTenant(connection, positionals[0]);
      if (values.yes !== true) {
        throw new CliError(
          `deleting ${tenant.slug} destroys its data for good; repeat with --yes to confirm`,
          EXIT.usage,
        );
      }
      await callApi(connection, 'DELETE', `/v1/platform/tenants/${tenant.id}`);
      process.stdout.write(`deleted ${tenant.slug} (${tenant.id})\n`);
      return EXIT.ok;
    }
    default:
      throw new CliError(USAGE, EXIT.usage);
  }
}
