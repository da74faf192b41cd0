import { readFileSync } from 'node:fs';
import type { LedgerBundle } from '@palisade/ledger';
import { callApi, connectionFrom, parseApiArgs } from '../api-client.ts';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';
import { fileError, writeFileAtomic } from '../files.ts';
import { count, counted, witnessed } from '../ledger/summary-text.ts';
import {
  describeKeyChanges,
  followBundleKeyChanges,
  readVkeys,
  verificationFailed,
  verify,
  witnessQuorum,
} from '../ledger/verifier.ts';
import { verifyOnline } from '../ledger/verify-online.ts';
import { resolveTenant } from './tenant-command.ts';

const USAGE = `usage: palisade ledger <command>
  keys [--out FILE]                            the platform's verifier keys (C2SP vkeys)
  export --tenant ID|SLUG --out FILE           a tenant's whole ledger, for offline verification (admin token)
  verify BUNDLE --keys FILE [--accept-change]  verify an exported bundle offline
  verify --url URL --token TENANT_KEY [--keys FILE] [--tenant ID] [--accept-change]
                                               verify online; what the server at URL showed this credential is
                                               remembered in ~/.palisade/ and a change refused (--accept-change
                                               trusts it, after checking out of band)
  --accept-change also follows a replacement of the platform's lost signing key from the keys you
  trust (--keys, or those remembered) when the log under the new key extends the old key's last
  checkpoint (a consistency proof), and fails naming why otherwise
  verify … --witness-quorum N                  also require N witnesses whose vkeys --keys FILE holds to have cosigned
verify exits 0 when the ledger verifies, 1 when it does not (the first failure named), 2 on a
usage error or a bundle or keys file that cannot be read, 3 when the server cannot be reached.`;

/**
 * The bundle at `path`. A file that cannot be read is a usage error (exit 2); one that is not
 * JSON fails verification (exit 1) like any other malformed bundle.
 */
function readBundle(path: string): LedgerBundle {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read the bundle ${path} (${fileError(error)}); export one with: palisade ledger export --tenant ID|SLUG --out ${path}`,
      EXIT.usage,
    );
  }
  try {
    return JSON.parse(text) as LedgerBundle;
  } catch (error) {
    throw verificationFailed(
      'LEDGER_BAD_BUNDLE',
      `${path} is not JSON (${(error as Error).message})`,
    );
  }
}

/** `palisade ledger …`: export, verify and fetch keys of the verifiable ledger. */
export async function ledgerCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (wantsHelp(argv)) throw new CliError(USAGE, EXIT.ok);
  const { values, positionals } = parseApiArgs(rest, {
    tenant: { type: 'string' },
    out: { type: 'string' },
    keys: { type: 'string' },
    'witness-quorum': { type: 'string' },
    'accept-change': { type: 'boolean' },
  });
  switch (sub) {
    case 'keys': {
      const connection = {
        url: connectionFrom({ ...values, token: values.token ?? 'none' }, process.env).url,
        token: 'none',
      };
      const { keys } = await callApi<{ keys: string[] }>(
        connection,
        'GET',
        '/v1/platform/ledger/keys',
      );
      const text = `${keys.join('\n')}\n`;
      if (values.out === undefined) process.stdout.write(text);
      else writeFileAtomic(values.out, text);
      return EXIT.ok;
    }
    case 'export': {
      if (values.tenant === undefined || values.out === undefined)
        throw new CliError(`export needs --tenant and --out\n${USAGE}`, EXIT.usage);
      const connection = connectionFrom(values, process.env);
      const tenant = await resolveTenant(connection, values.tenant);
      process.stderr.write(`exporting the ledger of ${tenant.slug}…\n`);
      const bundle = await callApi<LedgerBundle>(
        connection,
        'GET',
        `/v1/platform/tenants/${tenant.id}/ledger/export`,
      );
      writeFileAtomic(values.out, `${JSON.stringify(bundle)}\n`);
      process.stdout.write(
        `wrote ${values.out}: ${bundle.entries.length} entries, ${bundle.batches.length} batches (record data stays with the tenant)\n`,
      );
      return EXIT.ok;
    }
    case 'verify': {
      const file = positionals[0];
      const quorum = witnessQuorum(values['witness-quorum']);
      if (file === undefined) {
        if (values.token === undefined && !process.env.PALISADE_TOKEN)
          throw new CliError(
            `verify needs a BUNDLE file and --keys FILE, or a tenant's API key (--token or PALISADE_TOKEN) to verify online\n${USAGE}`,
            EXIT.usage,
          );
        process.stdout.write(
          `${await verifyOnline(connectionFrom(values, process.env), {
            keysFile: values.keys,
            quorum,
            tenant: values.tenant,
            acceptChange: values['accept-change'] === true,
          })}\n`,
        );
        return EXIT.ok;
      }
      if (values.tenant !== undefined)
        throw new CliError(
          `--tenant is for online verification (--url), which remembers what a server showed\n${USAGE}`,
          EXIT.usage,
        );
      if (values.keys === undefined)
        throw new CliError(
          `offline verification needs --keys FILE (from: palisade ledger keys)\n${USAGE}`,
          EXIT.usage,
        );
      const trusted = readVkeys(values.keys);
      const bundle = readBundle(file);
      const followed = await followBundleKeyChanges(bundle, trusted);
      if (followed.accepted.length > 0 && values['accept-change'] !== true)
        throw verificationFailed(
          'LEDGER_TRUST_CHANGED',
          `the platform's signing key was replaced: ${describeKeyChanges(followed.accepted).trim()}; run again with --accept-change to follow it`,
        );
      const { vkeys } = followed;
      const summary = await verify(bundle, vkeys, quorum);
      process.stdout.write(
        `${describeKeyChanges(followed.accepted)}ok: tenant ${summary.tenant}, ${counted(summary)}; ` +
          `anchored at ${summary.platformSize} in the platform log signed by ${count(summary.platformSigners.length, 'key', 'keys')}, ` +
          `${witnessed(summary, vkeys, quorum)}\n`,
      );
      return EXIT.ok;
    }
    default:
      throw new CliError(USAGE, EXIT.usage);
  }
}
