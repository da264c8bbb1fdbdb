/** Runs `imprint device simulate` with the given arguments (for the CLI test). */
import { Command } from 'commander';
import { deviceSimulateCommand } from '../../../src/cli/factory.ts';

const root = new Command('imprint');
root.addCommand(deviceSimulateCommand());
await root.parseAsync(['node', 'imprint', 'simulate', ...process.argv.slice(2)]);
