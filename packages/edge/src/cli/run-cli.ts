import { CliError, EXIT } from './cli-error.ts';
import { accept } from './commands/accept.ts';
import { enroll } from './commands/enroll.ts';
import { quarantine } from './commands/quarantine.ts';
import { start } from './commands/start.ts';
import { status } from './commands/status.ts';

const USAGE = `palisade-edge: the Palisade edge agent

  palisade-edge enroll --url URL --token TOKEN --dir DIR
      generate the node's keys, enroll with the platform, write DIR/node.json (0600)
  palisade-edge enroll --rekey --token TOKEN --dir DIR [--url URL]
      take the token of a rekey (POST /v1/edge-nodes/{id}/rekey) for the node in DIR: new keys
      and credential, the same node and outbox (the agent must be stopped)
  palisade-edge start --dir DIR [--mqtt HOST:PORT] [--mqtt-tls HOST:PORT --tls-cert FILE --tls-key FILE] [--metrics HOST:PORT] [--batch-max-messages N] [--outbox-max-messages N]
      send the outbox to the platform until SIGTERM/SIGINT (JSON logs on stdout); with --mqtt
      (plain) and/or --mqtt-tls (TLS with the PEM certificate and key, X25519MLKEM768
      preferred), devices assigned to this node connect there with their platform credentials;
      local rules and RPC from the platform apply; with --metrics, Prometheus metrics at
      /metrics; one agent per DIR (a second start there is refused)
  palisade-edge status --dir DIR [--json]
      link state, backlog, oldest message age, last sync, drain rate, quarantine (read-only, safe while running)
  palisade-edge quarantine list --dir DIR [--json]
      the batches the platform refused for good, set aside with its reasons (safe while running)
  palisade-edge quarantine retry --dir DIR --batch ID [--as-new]
      send a batch set aside again: as it is, or --as-new as messages formed into new batches
      (which applies again whatever an earlier send of it applied)
  palisade-edge quarantine discard --dir DIR --batch ID
      delete a batch set aside, with its messages, for good
  palisade-edge accept --dir DIR --device ID --json '{"ts":…,"values":{…}}' [--priority alert]
      put one device message into the outbox (ops and test tool)

exit codes: 0 ok, 1 failure, 2 usage, 3 platform unreachable
`;

const COMMANDS: Record<string, (argv: string[]) => number | Promise<number>> = {
  enroll,
  start,
  status,
  accept,
  quarantine,
};

/** The usage entries of one command (its lines and their indented descriptions). */
function commandUsage(name: string): string {
  const entries = USAGE.split(/\n(?= {2}palisade-edge )/).filter((entry) =>
    entry.startsWith(`  palisade-edge ${name} `),
  );
  return `${entries.map((entry) => entry.replace(/\n\nexit codes:.*$/s, '')).join('\n')}\n`;
}

/** Runs the command; returns the exit code. Errors become one line on stderr. */
export async function runEdgeCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  try {
    if (command === undefined)
      throw new CliError(`unknown command ${name}; see palisade-edge --help`, EXIT.usage);
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(commandUsage(name));
      return EXIT.ok;
    }
    return await command(rest);
  } catch (error) {
    const cli = error instanceof CliError;
    const message = (error as Error).message.replaceAll('\n', ' ');
    process.stderr.write(`palisade-edge: ${message}\n`);
    return cli ? error.exitCode : EXIT.failed;
  }
}
