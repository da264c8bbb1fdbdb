import { Command } from 'commander';
import { cliActor, output, resolveTenant, withPlatform } from './context.ts';

/** `imprint token create|list|revoke`. */
export function tokenCommand(): Command {
  const cmd = new Command('token').description('manage API tokens');
  cmd
    .command('create')
    .description('create an API token (the secret is shown once)')
    .requiredOption('--name <name>', 'what the token is for')
    .requiredOption('--role <role>', 'admin | operator | auditor | station | release-manager')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .option('--expires <iso-date>', 'expiry time')
    .action(
      async (opts: { name: string; role: string; tenant?: string; expires?: string }, self: Command) => {
        await withPlatform(self, async (p) => {
          const tenantId = await resolveTenant(p, opts.tenant);
          const { token, info } = await p.tokens.create(cliActor(), {
            tenantId,
            name: opts.name,
            role: opts.role,
            expiresAt: opts.expires === undefined ? null : new Date(opts.expires).toISOString(),
          });
          output(self, { ...info, token });
          if (process.stdout.isTTY) process.stderr.write('store the token now: it cannot be shown again\n');
        });
      },
    );
  cmd
    .command('list')
    .description('list API tokens of a tenant')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .action(async (opts: { tenant?: string }, self: Command) => {
      await withPlatform(self, async (p) => {
        output(self, await p.tokens.list(await resolveTenant(p, opts.tenant)), [
          'id',
          'name',
          'role',
          'createdAt',
          'expiresAt',
          'revokedAt',
          'lastUsedAt',
        ]);
      });
    });
  cmd
    .command('revoke <id>')
    .description('revoke an API token')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .action(async (id: string, opts: { tenant?: string }, self: Command) => {
      await withPlatform(self, async (p) => {
        output(self, await p.tokens.revoke(cliActor(), id, await resolveTenant(p, opts.tenant)));
      });
    });
  return cmd;
}
