export { CliError, EXIT } from './cli-error.ts';
export { runCli } from './run-cli.ts';
