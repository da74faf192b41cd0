import { CliError, EXIT } from './cli-error.ts';

const USAGE = `usage: palisade <command>
  start            run the platform in this process (start --help lists its settings)
  tenant ...       create, list, show, suspend, resume, delete tenants on a running server
  admin token --rotate   replace the platform-admin token
  admin cookie-secret --rotate   retire the tenant issuers' cookie secrets (one tenant's with --tenant;
                   --revoke-previous for a leaked one: cookies it signed stop working at once)
  keys ...         rotate a tenant's data key (and watch the job), rotate the master key
  backup --out DIR     copy the embedded (SQLite) platform while it runs
  restore --from DIR   check a backup and restore it into an empty data folder
  ledger ...       keys, export and verify a tenant's ledger (offline or online)
  witness ...      run an independent ledger witness, or make its key
palisade <command> --help shows a command's usage.`;

type Command = (argv: string[]) => Promise<number>;

/**
 * Each command's module, loaded only when it runs: the server's code takes about half a second
 * to load, which `ledger verify`, `tenant` and usage errors never need.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./commands/start-command.ts')).startCommand,
  tenant: async () => (await import('./commands/tenant-command.ts')).tenantCommand,
  admin: async () => (await import('./commands/admin-command.ts')).adminCommand,
  keys: async () => (await import('./commands/keys-command.ts')).keysCommand,
  backup: async () => (await import('./commands/backup-command.ts')).backupCommand,
  restore: async () => (await import('./commands/backup-command.ts')).restoreCommand,
  ledger: async () => (await import('./commands/ledger-command.ts')).ledgerCommand,
  witness: async () => (await import('./commands/witness-command.ts')).witnessCommand,
};

/** Runs the CLI and returns its exit code; errors become one line on stderr. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const load = command === undefined ? undefined : COMMANDS[command];
  try {
    if (load === undefined)
      throw new CliError(
        USAGE,
        command === undefined || command === '--help' ? EXIT.ok : EXIT.usage,
      );
    return await (await load())(rest);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`${error.exitCode === EXIT.ok ? '' : 'palisade: '}${error.message}\n`);
      return error.exitCode;
    }
    const { code, address, port } = error as { code?: unknown; address?: unknown; port?: unknown };
    // The server's ConfigError, known by its code: checking its class would load the server.
    if (code === 'PALISADE_CONFIG_INVALID') {
      process.stderr.write(`palisade: ${(error as Error).message}\n`);
      return EXIT.usage;
    }
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`palisade: ${(error as Error).message}\n`);
      return EXIT.usage;
    }
    if (code === 'EADDRINUSE') {
      process.stderr.write(
        `palisade: cannot listen on ${String(address)}:${String(port)}: the address is in use; stop what holds it or pick a free port (--listen, --mqtt)\n`,
      );
      return EXIT.failed;
    }
    // A store or bus that cannot be reached at start is an address to check, not a crash.
    if ((error as { syscall?: unknown }).syscall === 'connect') {
      process.stderr.write(
        `palisade: cannot connect to ${String(address)}:${String(port)} (${String(code)}): is PostgreSQL running there? Check --database and --shard\n`,
      );
      return EXIT.failed;
    }
    if (typeof (error as { severity?: unknown }).severity === 'string') {
      process.stderr.write(
        `palisade: PostgreSQL refused: ${(error as Error).message} (SQLSTATE ${String(code)}); check --database and --shard\n`,
      );
      return EXIT.failed;
    }
    // The platform's typed errors say what is wrong by code and message; a stack adds nothing.
    if (typeof code === 'string' && code.startsWith('PALISADE_')) {
      process.stderr.write(`palisade: ${code}: ${(error as Error).message}\n`);
      return EXIT.failed;
    }
    process.stderr.write(`palisade: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  }
}
