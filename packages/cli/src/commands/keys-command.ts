import { parseArgs } from 'node:util';
import {
  type KeyJobView,
  type KeyStatus,
  loadSettings,
  replaceLedgerKey,
  rotatePlatformMasterKey,
} from '@palisade/server';
import { callApi, connectionFrom, parseApiArgs } from '../api-client.ts';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';
import { settingFlags, settingOptions } from '../settings-flags.ts';
import { resolveTenant } from './tenant-command.ts';

const USAGE = `usage: palisade keys <command>
  rotate --tenant ID|SLUG [--wait]     new data key version now; re-encryption runs in the background
  job --tenant ID|SLUG JOB_ID          progress of a re-encryption job
  status --tenant ID|SLUG              key versions, records and encryptions under each, jobs
  rotate-master [--data DIR | --database URL] [--new-key-file FILE]
                                       offline, server stopped: re-seal every tenant KEK under a new
                                       master key (PALISADE_NEW_MASTER_KEY, FILE, or a generated one)
  new-ledger-key [--data DIR | --database URL] [--ledger-key-file FILE]
                                       offline, server stopped, ledger key file lost for good: make a new
                                       ledger signing key and record the change in the platform log
  (online commands take --url, --token, --json)`;
/** How often `--wait` asks for progress. */
const POLL_MS = 250;

function printJob(job: KeyJobView, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(job)}\n`);
  else
    process.stdout.write(
      `job ${job.id}: ${job.state}, key ${job.keyId} v${job.targetVersion}, ${job.processed} re-encrypted, ${job.remaining} to go\n`,
    );
}

async function rotateMaster(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...settingOptions(), 'new-key-file': { type: 'string' } },
    strict: true,
  });
  const settings = loadSettings({
    flags: settingFlags(values),
    env: process.env,
    configFile: (values as Record<string, unknown>).config as string | undefined,
  });
  const result = await rotatePlatformMasterKey(settings, {
    newKey: process.env.PALISADE_NEW_MASTER_KEY,
    newKeyFile: values['new-key-file'] as string | undefined,
  });
  process.stdout.write(
    `re-sealed ${result.resealed} of ${result.keks} tenant KEKs (${result.tenants} tenants) from master key ${result.fromKeyId} to ${result.toKeyId}\n`,
  );
  if (result.previousKeyFile !== undefined)
    process.stderr.write(
      `The new master key is in ${result.keyFile}; the old one was kept as ${result.previousKeyFile}: destroy it once no backup of the control plane needs it.\n`,
    );
  else if (result.keyFile !== undefined)
    process.stderr.write(
      `Start the server with the new master key: --master-key-file ${result.keyFile}\n`,
    );
  else process.stderr.write('Start the server with the new master key in PALISADE_MASTER_KEY.\n');
  return EXIT.ok;
}

async function newLedgerKey(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: settingOptions(), strict: true });
  const settings = loadSettings({
    flags: settingFlags(values),
    env: process.env,
    configFile: (values as Record<string, unknown>).config as string | undefined,
  });
  const made = await replaceLedgerKey(settings);
  process.stdout.write(`${made.vkeys.join('\n')}\n`);
  process.stderr.write(
    made.recordedAt === undefined
      ? `Made the ledger signing key ${made.file} (${made.origin}); back it up.\n`
      : `Made a new ledger signing key ${made.file} (${made.origin}) in place of ${made.previousSigners}, ` +
          `recorded in the platform log at size ${made.recordedAt}. Back it up. Checkpoints from now on carry only ` +
          'the new signatures: auditors follow the change from the old key (palisade ledger verify --accept-change), ' +
          'and every witness operator must restart the witness with the new verifier keys (above) in place of the old.\n',
  );
  return EXIT.ok;
}

/** `palisade keys …`: data key rotation on a running server; master key rotation offline. */
export async function keysCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (wantsHelp(argv)) throw new CliError(USAGE, EXIT.ok);
  if (sub === 'rotate-master') return rotateMaster(rest);
  if (sub === 'new-ledger-key') return newLedgerKey(rest);
  if (sub !== 'rotate' && sub !== 'job' && sub !== 'status') throw new CliError(USAGE, EXIT.usage);
  const { values, positionals } = parseApiArgs(rest, {
    json: { type: 'boolean' },
    tenant: { type: 'string' },
    wait: { type: 'boolean' },
  });
  const json = values.json === true;
  const connection = connectionFrom(values, process.env);
  if (values.tenant === undefined)
    throw new CliError(`name the tenant with --tenant\n${USAGE}`, EXIT.usage);
  const jobId = positionals[0];
  if (sub === 'job' && jobId === undefined)
    throw new CliError(
      `name the job: palisade keys job --tenant ID|SLUG JOB_ID (keys status lists them)\n${USAGE}`,
      EXIT.usage,
    );
  const tenant = await resolveTenant(connection, values.tenant);
  const base = `/v1/platform/tenants/${tenant.id}/keys`;
  if (sub === 'status') {
    const status = await callApi<KeyStatus>(connection, 'GET', base);
    process.stdout.write(`${JSON.stringify(status, null, json ? 0 : 2)}\n`);
    return EXIT.ok;
  }
  let job =
    sub === 'rotate'
      ? await callApi<KeyJobView>(connection, 'POST', `${base}/rotate`)
      : await callApi<KeyJobView>(
          connection,
          'GET',
          `${base}/jobs/${encodeURIComponent(jobId ?? '')}`,
        );
  printJob(job, json);
  while (values.wait === true && job.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await callApi<KeyJobView>(connection, 'GET', `${base}/jobs/${job.id}`);
    printJob(job, json);
  }
  return job.state === 'failed' ? EXIT.failed : EXIT.ok;
}
