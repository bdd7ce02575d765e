import { Command, CommanderError } from 'commander';
import { UsageError } from './errors.js';
import { registerDiskCommands } from './disk.js';
import { registerRunCommand } from './run-command.js';

/** Entry point of the vmrun CLI. Usage errors print one line and exit 2, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('vmrun')
    .description('Full-system x86-64 emulator')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerRunCommand(program);
  registerDiskCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') process.exit(0);
      process.exit(2);
    }
    if (e instanceof UsageError) {
      process.stderr.write(`vmrun: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}
