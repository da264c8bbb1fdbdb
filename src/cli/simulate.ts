import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import { DeviceAgent } from '../device/agent.ts';
import { serveLine } from '../device/line.ts';
import { SimulatedDevice } from '../device/simulator.ts';
import { LinkServer } from '../factory/link/server.ts';
import { openSerial, parseHostPort } from '../factory/link/transport.ts';

function int(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ValidationError('ERR_VALIDATION', `${name} must be a positive integer`);
  return n;
}

/**
 * `imprint device simulate`: one simulated device on a serial port (`--pty`) or TCP (`--listen`), or a
 * line of `--count` devices behind one TCP port. State files persist across restarts. Runs until killed.
 */
export function deviceSimulateCommand(): Command {
  return new Command('simulate')
    .description('run simulated devices on a serial port or a TCP fixture')
    .requiredOption('--model <name>', 'device model name')
    .option('--state <file>', 'state file of a single device (created if missing)')
    .option('--serial <serial>', 'serial of a new single device')
    .option('--count <n>', 'a line of n devices (state files in --dir)')
    .option('--dir <dir>', 'state directory of a line', 'devices')
    .option('--pty <path>', 'serve on this serial port (115200 baud)')
    .option('--listen <[host:]port>', 'serve over TCP')
    .action(
      async (o: {
        model: string;
        state?: string;
        serial?: string;
        count?: string;
        dir: string;
        pty?: string;
        listen?: string;
      }) => {
        const load = (path: string, serial?: string) =>
          existsSync(path)
            ? SimulatedDevice.open(path)
            : SimulatedDevice.create(path, { model: o.model, ...(serial === undefined ? {} : { serial }) });
        let devices: SimulatedDevice[];
        if (o.count !== undefined) {
          mkdirSync(o.dir, { recursive: true });
          devices = Array.from({ length: int(o.count, '--count') }, (_, i) =>
            load(join(o.dir, `device-${String(i).padStart(6, '0')}.cbor`)),
          );
        } else {
          devices = [load(o.state ?? 'device.cbor', o.serial)];
        }
        if (o.pty !== undefined) {
          const port = await openSerial(o.pty, 115200);
          new LinkServer(port, new DeviceAgent(devices[0]!).handle);
          process.stdout.write(`device ${devices[0]!.serial} on ${o.pty}\n`);
        } else {
          const { host, port } = parseHostPort(o.listen ?? '7700', { anyPort: true });
          const line = await serveLine(devices, port, host);
          process.stdout.write(`${devices.length} device(s) listening on ${host}:${line.port}\n`);
        }
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        process.exit(0);
      },
    );
}
