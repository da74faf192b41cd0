#!/usr/bin/env node
import { runEdgeCli } from './run-cli.ts';

// What the agent writes under its node directory (the outbox, its devices' credential hashes,
// the RPC journal) is the node's alone, whatever the mode of a directory made beforehand.
process.umask(0o077);
process.exitCode = await runEdgeCli(process.argv.slice(2));
