#!/usr/bin/env node
import { runEdgeCli } from './run-cli.ts';

process.exitCode = await runEdgeCli(process.argv.slice(2));
