import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import { DeviceAgent } from '../device/agent.ts';
import { serveLine } from '../device/line.ts';
import { Pkcs11SecureElement } from '../device/pkcs11-se.ts';
import type { SecureElement } from '../device/secure-element.ts';
import { SimulatedDevice } from '../device/simulator.ts';
import { LinkServer } from '../factory/link/server.ts';
import { openSerial, parseHostPort } from '../factory/link/transport.ts';

function int(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ValidationError('ERR_VALIDATION', `${name} must be a positive integer`);
  return n;
}

/** A PKCS#11 secure-element factory from the options, or undefined for the software element. */
function pkcs11Element(
  module: string | undefined,
  tokenLabel: string | undefined,
): ((uid: Uint8Array) => SecureElement) | undefined {
  if (module === undefined && tokenLabel === undefined) return undefined;
  const pin = process.env.IMPRINT_SE_PIN;
  if (module === undefined || tokenLabel === undefined || pin === undefined)
    throw new ValidationError(
      'ERR_VALIDATION',
      '--pkcs11-module and --pkcs11-token go together, with the user PIN in $IMPRINT_SE_PIN',
    );
  return (uid) => Pkcs11SecureElement.open({ module, tokenLabel, pin }, uid);
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
    .option(
      '--pkcs11-module <path>',
      'keep each device secure element in this PKCS#11 module (PIN: $IMPRINT_SE_PIN)',
    )
    .option('--pkcs11-token <label>', 'the token of --pkcs11-module')
    .action(
      async (o: {
        model: string;
        state?: string;
        serial?: string;
        count?: string;
        dir: string;
        pty?: string;
        listen?: string;
        pkcs11Module?: string;
        pkcs11Token?: string;
      }) => {
        const secureElement = pkcs11Element(o.pkcs11Module, o.pkcs11Token);
        const se = secureElement === undefined ? {} : { secureElement };
        const load = (path: string, serial?: string) =>
          existsSync(path)
            ? SimulatedDevice.open(path, se)
            : SimulatedDevice.create(path, {
                model: o.model,
                ...se,
                ...(serial === undefined ? {} : { serial }),
              });
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
