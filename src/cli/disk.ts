import type { Command } from 'commander';

/** `vmrun disk …` subcommands (create, info, convert, check). */
export function registerDiskCommands(program: Command): void {
  program.command('disk').description('VHD and raw disk image tools');
}
