import { parseArgs } from 'node:util';
import { createWitnessKeyFile, loadWitnessKeys, startWitness } from '@palisade/server';
import { CliError, EXIT, wantsHelp } from '../cli-error.ts';

const USAGE = `usage:
  palisade witness keygen --name NAME --out FILE
      make a witness key file (mode 0600) and print its two vkeys (Ed25519, ML-DSA-44)
  palisade witness vkeys --key FILE
      print the vkeys of an existing key file
  palisade witness --listen HOST:PORT --key FILE --state FILE --log ORIGIN=VKEY [--log ...]
      cosign checkpoints of the given logs (C2SP tlog-witness POST /add-checkpoint);
      repeat --log for each key of a log; --log-level LEVEL (default info)`;

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '')
    throw new CliError(`witness: ${flag} is required\n${USAGE}`, EXIT.usage);
  return value;
}

function keygen(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { name: { type: 'string' }, out: { type: 'string' } },
    strict: true,
  });
  const out = required(values.out, '--out');
  const keys = createWitnessKeyFile(out, required(values.name, '--name'));
  process.stdout.write(`${keys.vkeys.join('\n')}\n`);
  process.stderr.write(
    `Wrote ${out} (keep it secret). Give the platform both vkeys:\n` +
      '  palisade start --witness URL=<first line> --witness URL=<second line>\n',
  );
  return EXIT.ok;
}

function vkeys(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { key: { type: 'string' } }, strict: true });
  const keys = loadWitnessKeys(required(values.key, '--key'));
  process.stdout.write(`${keys.vkeys.join('\n')}\n`);
  return EXIT.ok;
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string' },
      key: { type: 'string' },
      state: { type: 'string' },
      log: { type: 'string', multiple: true },
      'log-level': { type: 'string', default: 'info' },
    },
    strict: true,
  });
  const witness = await startWitness({
    listen: required(values.listen, '--listen'),
    keyFile: required(values.key, '--key'),
    stateFile: required(values.state, '--state'),
    logs: values.log ?? [],
    logLevel: values['log-level'],
  });
  const { logger } = witness;
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'witness shutting down');
      witness.close().then(
        () => resolve(EXIT.ok),
        (error: unknown) => {
          logger.error({ err: error }, 'witness shutdown failed');
          resolve(EXIT.failed);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/**
 * `palisade witness`: run an independent C2SP tlog-witness, or make its key. The witness
 * stores its state durably before every cosignature and exits cleanly on SIGTERM.
 */
export async function witnessCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) throw new CliError(USAGE, EXIT.usage);
  if (wantsHelp(argv)) throw new CliError(USAGE, EXIT.ok);
  if (sub === 'keygen') return keygen(rest);
  if (sub === 'vkeys') return vkeys(rest);
  return serve(argv);
}
