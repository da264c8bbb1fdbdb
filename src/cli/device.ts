import { Command } from 'commander';
import { DEVICE_STATES, type DeviceState } from '../registry/types.ts';
import { ValidationError } from '../core/errors.ts';
import { cliActor, output, resolveTenant, withPlatform } from './context.ts';

/** `imprint device list|show|register`, plus `imprint tenant …` and `imprint model …`. */
export function deviceCommand(): Command {
  const cmd = new Command('device').description('devices in the registry');
  cmd
    .command('list')
    .description('list devices')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .option('--state <state>', `one of ${DEVICE_STATES.join(', ')}`)
    .option('--batch <id>', 'only this batch')
    .option('--limit <n>', 'at most n devices', '100')
    .action(
      async (opts: { tenant?: string; state?: string; batch?: string; limit: string }, self: Command) => {
        if (opts.state !== undefined && !(DEVICE_STATES as readonly string[]).includes(opts.state)) {
          throw new ValidationError('ERR_VALIDATION', `--state must be one of ${DEVICE_STATES.join(', ')}`);
        }
        await withPlatform(self, async (p) => {
          const devices = await p.registry.listDevices(await resolveTenant(p, opts.tenant), {
            limit: Number(opts.limit),
            ...(opts.state === undefined ? {} : { state: opts.state as DeviceState }),
            ...(opts.batch === undefined ? {} : { batchId: opts.batch }),
          });
          output(self, devices, [
            'id',
            'serial',
            'state',
            'modelId',
            'tenantId',
            'identityKeyFingerprint',
            'updatedAt',
          ]);
        });
      },
    );
  cmd
    .command('show <id-or-serial>')
    .description('show one device')
    .action(async (ref: string, _opts: unknown, self: Command) => {
      await withPlatform(self, async (p) => {
        const manufacturer = await resolveTenant(p, undefined);
        const bySerial = await p.registry.findDeviceBySerial(manufacturer, ref);
        output(self, bySerial ?? (await p.registry.getDevice(ref)));
      });
    });
  cmd
    .command('register <serial>')
    .description('register a device of a model (manufacturer)')
    .requiredOption('--model <name-or-id>', 'device model')
    .action(async (serial: string, opts: { model: string }, self: Command) => {
      await withPlatform(self, async (p) => {
        const tenantId = await resolveTenant(p, undefined);
        const model = (await p.registry.listModels(tenantId)).find(
          (m) => m.id === opts.model || m.name === opts.model,
        );
        if (model === undefined) throw new ValidationError('ERR_MODEL_NOT_FOUND', `no model ${opts.model}`);
        output(
          self,
          await p.registry.createDevice(cliActor(), { manufacturerId: tenantId, modelId: model.id, serial }),
        );
      });
    });
  return cmd;
}

/** `imprint tenant create|list`. */
export function tenantCommand(): Command {
  const cmd = new Command('tenant').description('tenants (the manufacturer and device owners)');
  cmd
    .command('create <name>')
    .option('--kind <kind>', 'owner | manufacturer', 'owner')
    .action(async (name: string, opts: { kind: string }, self: Command) => {
      if (opts.kind !== 'owner' && opts.kind !== 'manufacturer') {
        throw new ValidationError('ERR_VALIDATION', '--kind must be owner or manufacturer');
      }
      await withPlatform(self, async (p) =>
        output(self, await p.registry.createTenant(cliActor(), name, opts.kind as 'owner')),
      );
    });
  cmd.command('list').action(async (_opts: unknown, self: Command) => {
    await withPlatform(self, async (p) =>
      output(self, await p.registry.listTenants(), ['id', 'name', 'kind', 'createdAt']),
    );
  });
  return cmd;
}

/** `imprint model create|list`. */
export function modelCommand(): Command {
  const cmd = new Command('model').description('device models of the manufacturer');
  cmd
    .command('create <name>')
    .option('--description <text>', 'description', '')
    .action(async (name: string, opts: { description: string }, self: Command) => {
      await withPlatform(self, async (p) =>
        output(
          self,
          await p.registry.createModel(cliActor(), await resolveTenant(p, undefined), name, opts.description),
        ),
      );
    });
  cmd.command('list').action(async (_opts: unknown, self: Command) => {
    await withPlatform(self, async (p) =>
      output(self, await p.registry.listModels(await resolveTenant(p, undefined)), [
        'id',
        'name',
        'description',
        'createdAt',
      ]),
    );
  });
  return cmd;
}
