/**
 * The `palisade` command as users get it: the built dist (CLI and server), spawned as
 * processes. One server per backend serves a whole tenant lifecycle driven by the CLI with
 * the environment and with flags, then an admin-token and a cookie-secret rotation and a
 * graceful SIGTERM.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStores } from '../../server/src/index.ts';
import {
  type BackendFixture,
  backendNames,
  openBackend,
} from '../../server/test/support/backends.ts';
import {
  assertBuilt,
  type CliResult,
  logLines,
  palisade,
  type RunningServer,
  startServer,
} from './support/palisade-process.ts';

/** `start`/`admin` flags that point at the fixture's stores. */
function storeFlags(fixture: BackendFixture): string[] {
  const { settings } = fixture;
  return [
    '--data',
    settings.data,
    ...settings.shards.flatMap((shard) => ['--shard', shard]),
    ...(settings.database === undefined
      ? []
      : [
          '--database',
          settings.database,
          '--postgres-runtime-role',
          settings.postgresRuntimeRole,
          '--postgres-pool-size',
          '4',
        ]),
  ];
}

function expectExit(result: CliResult, code: number): void {
  assert.equal(
    result.code,
    code,
    `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
}

/** A port nothing listens on: bound by us a moment ago, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(assertBuilt);

for (const backend of backendNames()) {
  describe(`palisade CLI against a built server on ${backend}`, () => {
    let fixture: BackendFixture;
    let server: RunningServer;
    let token: string;
    let env: Record<string, string>;
    /** `--url/--token` instead of the environment. */
    let flags: () => string[];

    before(async () => {
      fixture = await openBackend(backend);
      server = await startServer(
        [
          ...storeFlags(fixture),
          '--listen',
          '127.0.0.1:0',
          '--log-level',
          'info',
          // Every request asks the control plane, so a rotated token counts at once.
          '--auth-cache-ttl-ms',
          '0',
          // Two tenants per page, so `tenant list` and slug lookups must follow cursors.
          '--page-size-max',
          '2',
        ],
        { expectToken: true },
      );
      assert.match(server.generatedToken ?? '', /^pa_[A-Za-z0-9_-]{32,}$/);
      token = server.generatedToken!;
      env = { PALISADE_URL: server.url, PALISADE_TOKEN: token };
      flags = () => ['--url', server.url, '--token', token];
    });

    after(async () => {
      await server?.stop('SIGKILL');
      await fixture?.cleanup();
    });

    it('prints the admin token to stderr and never into the JSON log', () => {
      assert.ok(server.stderr().includes(token));
      assert.ok(!server.stdout().includes(token));
    });

    it('creates tenants, with PALISADE_URL/PALISADE_TOKEN or with --url/--token', async () => {
      const acme = await palisade(['tenant', 'create', '--slug', 'acme', '--name', 'Acme'], env);
      expectExit(acme, 0);
      const [header, row] = acme.stdout.trimEnd().split('\n');
      assert.match(header!, /^ID\s+SLUG\s+NAME\s+PLAN\s+STATUS\s+SHARD$/);
      assert.match(row!, /^[0-9a-f-]{36}\s+acme\s+Acme\s+free\s+active\s+s[12]$/);

      for (const slug of ['beta', 'gamma']) {
        const created = await palisade([
          'tenant',
          'create',
          '--slug',
          slug,
          '--name',
          `Tenant ${slug}`,
          '--json',
          ...flags(),
        ]);
        expectExit(created, 0);
        const tenant = JSON.parse(created.stdout);
        assert.equal(tenant.slug, slug);
        assert.equal(tenant.status, 'active');
      }
    });

    it('reports a taken slug with its error code and exit 1', async () => {
      const again = await palisade(['tenant', 'create', '--slug', 'acme', '--name', 'Again'], env);
      expectExit(again, 1);
      assert.match(again.stderr, /^palisade: PALISADE_SLUG_TAKEN: /);
      assert.equal(again.stdout, '');
    });

    it('lists every tenant across pages, as a table and as JSON', async () => {
      const table = await palisade(['tenant', 'list'], env);
      expectExit(table, 0);
      const lines = table.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 4);
      assert.deepEqual(
        lines.slice(1).map((line) => line.split(/\s+/)[1]),
        ['acme', 'beta', 'gamma'],
      );

      const json = await palisade(['tenant', 'list', '--json', ...flags()]);
      expectExit(json, 0);
      const tenants = JSON.parse(json.stdout) as { slug: string }[];
      assert.deepEqual(tenants.map((t) => t.slug).sort(), ['acme', 'beta', 'gamma']);
    });

    it('shows a tenant by slug or id', async () => {
      const bySlug = await palisade(['tenant', 'show', 'gamma', '--json'], env);
      expectExit(bySlug, 0);
      const gamma = JSON.parse(bySlug.stdout);
      assert.equal(gamma.name, 'Tenant gamma');

      const byId = await palisade(['tenant', 'show', gamma.id, '--json', ...flags()]);
      expectExit(byId, 0);
      assert.deepEqual(JSON.parse(byId.stdout), gamma);

      const missing = await palisade(['tenant', 'show', 'nobody'], env);
      expectExit(missing, 1);
      assert.match(missing.stderr, /no tenant with slug "nobody"; see: palisade tenant list/);
    });

    it('suspends and resumes a tenant', async () => {
      const suspended = await palisade(['tenant', 'suspend', 'acme'], env);
      expectExit(suspended, 0);
      assert.match(suspended.stdout, /\bacme\s+Acme\s+free\s+suspended\b/);
      const shown = await palisade(['tenant', 'show', 'acme', '--json', ...flags()]);
      assert.equal(JSON.parse(shown.stdout).status, 'suspended');

      const resumed = await palisade(['tenant', 'resume', 'acme', ...flags()]);
      expectExit(resumed, 0);
      assert.match(resumed.stdout, /\bacme\s+Acme\s+free\s+active\b/);
    });

    it('deletes a tenant only with --yes', async () => {
      const unconfirmed = await palisade(['tenant', 'delete', 'acme'], env);
      expectExit(unconfirmed, 2);
      assert.match(
        unconfirmed.stderr,
        /deleting acme destroys its data for good; repeat with --yes/,
      );
      expectExit(await palisade(['tenant', 'show', 'acme'], env), 0);

      const confirmed = await palisade(['tenant', 'delete', 'acme', '--yes', ...flags()]);
      expectExit(confirmed, 0);
      assert.match(confirmed.stdout, /^deleted acme \([0-9a-f-]{36}\)\n$/);
      // The tenant stays as a tombstone (its slug is never reused) and refuses changes.
      const tombstone = await palisade(['tenant', 'show', 'acme', '--json'], env);
      expectExit(tombstone, 0);
      assert.equal(JSON.parse(tombstone.stdout).status, 'deleted');
      const resume = await palisade(['tenant', 'resume', 'acme'], env);
      expectExit(resume, 1);
      assert.match(resume.stderr, /^palisade: PALISADE_TENANT_DELETED: /);
    });

    it('refuses a wrong token with exit 1 and the error code', async () => {
      const wrong = await palisade(['tenant', 'list', '--token', `pa_${'x'.repeat(43)}`], env);
      expectExit(wrong, 1);
      assert.match(wrong.stderr, /^palisade: PALISADE_UNAUTHENTICATED: /);
      assert.equal(wrong.stdout, '');
    });

    it('asks for a token when none is given (exit 2)', async () => {
      const none = await palisade(['tenant', 'list', '--url', server.url]);
      expectExit(none, 2);
      assert.match(none.stderr, /no token: pass --token or set PALISADE_TOKEN/);
    });

    it('rotates the admin token: the new one works at once, the old one gets 401', async () => {
      const rotated = await palisade(['admin', 'token', '--rotate', ...storeFlags(fixture)]);
      expectExit(rotated, 0);
      const fresh = rotated.stdout.trim();
      assert.match(fresh, /^pa_[A-Za-z0-9_-]{32,}$/);
      assert.notEqual(fresh, token);
      assert.match(rotated.stderr, /previous platform-admin token no longer works/);

      const withNew = await palisade(['tenant', 'list', '--token', fresh], env);
      expectExit(withNew, 0);
      assert.match(withNew.stdout, /\bbeta\b/);
      const withOld = await palisade(['tenant', 'list'], env);
      expectExit(withOld, 1);
      assert.match(withOld.stderr, /PALISADE_UNAUTHENTICATED/);
      token = fresh;
    });

    it('refuses to rotate a token the adminToken setting puts back at every start (exit 2)', async () => {
      const configured = await palisade(['admin', 'token', '--rotate', ...storeFlags(fixture)], {
        PALISADE_ADMIN_TOKEN: `pa_configured_${'c'.repeat(32)}`,
      });
      expectExit(configured, 2);
      assert.equal(configured.stdout, '', 'no token printed');
      assert.match(configured.stderr, /set by adminToken .* Change that setting and restart/);
      expectExit(await palisade(['tenant', 'list', '--token', token], env), 0);
    });

    it("rotates a tenant's cookie secret: the server signs with a new one, cookies the old one signed still work", async () => {
      const call = async (method: string, path: string, bearer: string, body?: unknown) => {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.equal(response.status, 201, await response.clone().text());
        return (await response.json()) as { id: string; secret: string };
      };
      const shown = await palisade(['tenant', 'show', 'beta', '--json', ...flags()]);
      const beta = JSON.parse(shown.stdout) as { id: string };
      const key = await call('POST', `/v1/platform/tenants/${beta.id}/api-keys`, token, {
        name: 'cookies',
      });
      const redirect = 'http://127.0.0.1:9/callback';
      const client = await call('POST', '/v1/clients', key.secret, {
        name: 'web',
        kind: 'user',
        redirectUris: [redirect],
      });
      /** A sign-in begun at beta's issuer: the interaction page and its signed cookies. */
      const begin = async () => {
        const query = new URLSearchParams({
          client_id: client.id,
          response_type: 'code',
          redirect_uri: redirect,
          scope: 'openid',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        });
        const started = await fetch(`${server.url}/t/beta/auth?${query}`, { redirect: 'manual' });
        const cookie = started.headers
          .getSetCookie()
          .map((line) => line.split(';')[0])
          .join('; ');
        return { page: new URL(started.headers.get('location')!, server.url).href, cookie };
      };
      const shows = async (sign: { page: string; cookie: string }) =>
        (await fetch(sign.page, { headers: { cookie: sign.cookie } })).status;
      const cookieKeys = async () => {
        const stores = await openStores({ ...fixture.settings, shards: [] });
        try {
          return (await stores.controlPlane.identity.listKeys(beta.id))
            .filter((row) => row.use === 'cookie')
            .map((row) => ({ kid: row.kid, retired: row.retiredAt !== null }));
        } finally {
          await stores.close();
        }
      };
      const rotateBetaCookies = (...options: string[]) =>
        palisade([
          ...['admin', 'cookie-secret', '--rotate', ...options],
          ...['--tenant', 'beta', ...storeFlags(fixture)],
        ]);
      const before = await begin();
      assert.equal(await shows(before), 200);
      const [old] = await cookieKeys();

      const rotated = await rotateBetaCookies();
      expectExit(rotated, 0);
      assert.equal(rotated.stdout, 'retired 1 cookie secret\n');
      assert.match(rotated.stderr, /cookies the retired ones signed still verify/);
      assert.equal(await shows(before), 200, 'a cookie the retired secret signed still works');
      assert.equal(await shows(await begin()), 200);
      const after = await cookieKeys();
      assert.deepEqual(after[0], { kid: old!.kid, retired: true });
      assert.equal(after.length, 2);
      assert.ok(!after[1]!.retired && after[1]!.kid !== old!.kid, 'the server made a new one');

      // A leaked secret: revoked, the cookies it (or the one made since) signed stop working.
      const sinceRotation = await begin();
      assert.equal(await shows(sinceRotation), 200);
      const revoked = await rotateBetaCookies('--revoke-previous');
      expectExit(revoked, 0);
      assert.equal(revoked.stdout, 'revoked 2 cookie secrets\n');
      assert.match(revoked.stderr, /refuses every cookie the revoked ones signed/);
      assert.equal(await shows(before), 400, 'a cookie the revoked retired secret signed');
      assert.equal(await shows(sinceRotation), 400, 'a cookie the revoked current secret signed');
      assert.equal(await shows(await begin()), 200, 'a new sign-in works');
      const remade = await cookieKeys();
      assert.equal(remade.length, 1);
      assert.ok(!after.some((row) => row.kid === remade[0]!.kid), 'with a new secret');

      const unknown = await palisade([
        'admin',
        'cookie-secret',
        '--rotate',
        '--tenant',
        'nobody',
        ...storeFlags(fixture),
      ]);
      expectExit(unknown, 1);
      assert.match(unknown.stderr, /no tenant "nobody"; see: palisade tenant list/);
      const every = await palisade(['admin', 'cookie-secret', '--rotate', ...storeFlags(fixture)]);
      expectExit(every, 0);
      assert.equal(every.stdout, 'retired 1 cookie secret\n', 'only beta has an issuer yet');
    });

    it('shuts down on SIGTERM with exit 0 after logging it', async () => {
      const code = await server.stop('SIGTERM');
      assert.equal(code, 0, server.stderr());
      const messages = logLines(server.stdout()).map((line) => line.msg);
      assert.ok(
        messages.some((msg) => String(msg).startsWith('shutting down')),
        server.stdout(),
      );
      const gone = await palisade(['tenant', 'list'], { ...env, PALISADE_TOKEN: token });
      expectExit(gone, 3);
    });
  });
}

describe('palisade CLI without a server', () => {
  it('names the PostgreSQL address it cannot reach at start, without a stack (exit 1)', async () => {
    const port = await closedPort();
    const data = mkdtempSync(join(tmpdir(), 'palisade-cli-pg-'));
    try {
      const result = await palisade([
        'start',
        '--data',
        data,
        '--database',
        `postgres://postgres@127.0.0.1:${port}/palisade`,
        '--listen',
        '127.0.0.1:0',
        '--mqtt',
        'off',
      ]);
      expectExit(result, 1);
      assert.match(
        result.stderr,
        new RegExp(`palisade: cannot connect to 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
      );
      assert.match(result.stderr, /Check --database and --shard/);
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('says how to fix an unreachable server (exit 3)', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const result = await palisade([
      'tenant',
      'list',
      '--url',
      url,
      '--token',
      `pa_${'x'.repeat(43)}`,
    ]);
    expectExit(result, 3);
    assert.match(result.stderr, new RegExp(`^palisade: cannot reach ${url} \\(ECONNREFUSED\\)`));
    assert.match(result.stderr, /is the server running\? Start it with `palisade start`/);
  });

  it('names a --url or PALISADE_URL that is not an http(s) URL (exit 2)', async () => {
    const token = `pa_${'x'.repeat(43)}`;
    for (const url of ['127.0.0.1:8080', 'localhost:8080', 'ftp://127.0.0.1']) {
      const flag = await palisade(['tenant', 'list', '--url', url, '--token', token]);
      expectExit(flag, 2);
      assert.match(
        flag.stderr,
        new RegExp(`^palisade: --url / PALISADE_URL "${url}" is not an http\\(s\\) URL`),
      );
      const env = await palisade(['tenant', 'list'], { PALISADE_URL: url, PALISADE_TOKEN: token });
      expectExit(env, 2);
    }
  });

  it('says when the server hangs up in the middle of its answer (exit 3, no stack trace)', async () => {
    const cut = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      response.write('{"items":[');
      setTimeout(() => response.socket?.destroy(), 50);
    });
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(cut.address() as AddressInfo).port}`;
    try {
      const token = `pa_${'x'.repeat(43)}`;
      const result = await palisade(['tenant', 'list', '--url', url, '--token', token]);
      expectExit(result, 3);
      assert.match(result.stderr, new RegExp(`^palisade: ${url} broke off its answer`));
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    } finally {
      cut.close();
    }
  });

  it('says when --url is not a Palisade server (exit 1, no stack trace)', async () => {
    const other = createServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      const result = await palisade([
        'tenant',
        'list',
        '--url',
        url,
        '--token',
        `pa_${'x'.repeat(43)}`,
      ]);
      expectExit(result, 1);
      assert.match(
        result.stderr,
        /answered HTTP 404 without JSON; is --url \/ PALISADE_URL a Palisade server\?/,
      );
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    } finally {
      other.close();
    }
  });

  it('start says what is wrong with NATS or a taken port, without a stack trace (exit 1)', async () => {
    const data = mkdtempSync(join(tmpdir(), 'palisade-cli-start-'));
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const nats = `nats://127.0.0.1:${await closedPort()}`;
      const noNats = await palisade(['start', '--data', data, '--mqtt', 'off', '--nats', nats]);
      expectExit(noNats, 1);
      assert.match(noNats.stderr, /^palisade: PALISADE_BUS_UNAVAILABLE: connecting to NATS at /);
      assert.match(noNats.stderr, /--nats \/ PALISADE_NATS/);
      assert.doesNotMatch(noNats.stderr, /\n\s+at /);

      const inUse = await palisade([
        'start',
        '--data',
        data,
        '--mqtt',
        'off',
        '--listen',
        `127.0.0.1:${port}`,
      ]);
      expectExit(inUse, 1);
      assert.match(
        inUse.stderr,
        new RegExp(
          `^palisade: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`,
          'm',
        ),
      );
      assert.doesNotMatch(inUse.stderr, /\n\s+at /);
    } finally {
      taken.close();
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('start refuses a data folder another server runs on, naming its pid (exit 2); a killed one does not block', async () => {
    const data = mkdtempSync(join(tmpdir(), 'palisade-cli-lock-'));
    const args = ['--data', data, '--listen', '127.0.0.1:0', '--mqtt', 'off'];
    const first = await startServer(args);
    try {
      const second = await palisade(['start', ...args]);
      expectExit(second, 2);
      const pid = first.child.pid;
      assert.match(
        second.stderr,
        new RegExp(
          `^palisade: another Palisade server \\(pid ${pid} on .+\\) is running on the data folder ${data}; stop it \\(kill -TERM ${pid}\\), or give this server a data folder of its own \\(--data\\)$`,
          'm',
        ),
      );
      assert.doesNotMatch(second.stderr, /\n\s+at /);
      // Killed without a chance to clean up: the lock goes with the process.
      assert.equal(await first.stop('SIGKILL'), null);
      const restarted = await startServer(args);
      expectExit({ code: await restarted.stop('SIGTERM'), stdout: '', stderr: '' }, 0);
    } finally {
      await first.stop('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('names a bad setting and its source (exit 2)', async () => {
    const listen = await palisade(['start', '--listen', 'nonsense']);
    expectExit(listen, 2);
    assert.match(
      listen.stderr,
      /^palisade: setting listen \(from --listen\): "nonsense" is not valid/,
    );

    const fromEnv = await palisade(['start'], { PALISADE_AUTH_CACHE_TTL_MS: 'soon' });
    expectExit(fromEnv, 2);
    assert.match(
      fromEnv.stderr,
      /setting authCacheTtlMs \(from PALISADE_AUTH_CACHE_TTL_MS\): must be an integer/,
    );
  });

  it('prints usage for an unknown command or option (exit 2)', async () => {
    const unknown = await palisade(['frobnicate']);
    expectExit(unknown, 2);
    assert.match(unknown.stderr, /usage: palisade <command>/);

    const tenantUsage = await palisade(['tenant', 'rename', 'acme']);
    expectExit(tenantUsage, 2);
    assert.match(tenantUsage.stderr, /usage: palisade tenant <command>/);

    const badOption = await palisade(['tenant', 'list', '--colour']);
    expectExit(badOption, 2);
    assert.match(badOption.stderr, /--colour/);

    // --help is a question, not a mistake: every command answers it with exit 0.
    const startHelp = await palisade(['start', '--help']);
    expectExit(startHelp, 0);
    assert.match(startHelp.stderr, /usage: palisade start/);
    assert.match(startHelp.stderr, /--listen \(PALISADE_LISTEN\)/);
    for (const command of ['tenant', 'admin', 'keys', 'ledger', 'witness']) {
      const help = await palisade([command, '--help']);
      expectExit(help, 0);
      assert.match(help.stderr, new RegExp(`usage:[^]*palisade ${command}`));
    }

    for (const args of [
      ['admin', 'token'],
      ['admin', 'cookie-secret'],
      ['admin', 'cookie-secret', '--revoke-previous'],
      ['admin', 'token', '--rotate', '--tenant', 'acme'],
      ['admin', 'token', '--rotate', '--revoke-previous'],
    ]) {
      const usage = await palisade(args);
      expectExit(usage, 2);
      assert.match(usage.stderr, /usage: palisade admin token --rotate/);
      assert.match(
        usage.stderr,
        /palisade admin cookie-secret --rotate \[--revoke-previous\] \[--tenant ID\|SLUG\]/,
      );
    }

    // A data folder without a platform (a forgotten --data) is refused, and left as it was.
    const empty = mkdtempSync(join(tmpdir(), 'palisade-cli-empty-'));
    try {
      const noPlatform = await palisade(['admin', 'token', '--rotate', '--data', empty]);
      expectExit(noPlatform, 2);
      assert.match(noPlatform.stderr, /no Palisade platform in data folder .*point --data DIR/);
      assert.doesNotMatch(noPlatform.stdout, /pa_/);
      assert.deepEqual(readdirSync(empty), []);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }

    const url = `http://127.0.0.1:${await closedPort()}`;
    const token = `pa_${'x'.repeat(43)}`;
    const noJob = await palisade([
      'keys',
      'job',
      '--tenant',
      'acme',
      '--url',
      url,
      '--token',
      token,
    ]);
    expectExit(noJob, 2);
    assert.match(noJob.stderr, /name the job: palisade keys job --tenant ID\|SLUG JOB_ID/);
  });
});
