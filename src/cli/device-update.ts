import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { systemClock } from '../core/clock.ts';
import { fromPemAll } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import { readDeviceConfig } from '../device/config.ts';
import { deviceFetcher, type DeviceTls } from '../device/https-client.ts';
import { installReporter, rolloutOf } from '../device/firmware-api.ts';
import { hasTlsIdentity } from '../device/secure-element.ts';
import { SimulatedDevice } from '../device/simulator.ts';
import { runUpdateCycle, type UpdateCycleResult } from '../device/update-agent.ts';
import { UpdateClient } from '../firmware/update-client.ts';
import { output } from './context.ts';

interface UpdateOpts {
  state: string;
  server: string;
  ca?: string;
  root?: string;
  failHealthCheck?: boolean;
  report: boolean;
}

/** The device's mutual-TLS context, when its secure element holds an IDevID chain. */
async function identityTls(device: SimulatedDevice, ca: string | undefined): Promise<DeviceTls> {
  const se = device.secureElement;
  const chain = await se.identityChain();
  if (!hasTlsIdentity(se) || chain.length === 0) return ca === undefined ? {} : { ca };
  const anchors = ca === undefined ? [] : fromPemAll(ca, 'CERTIFICATE');
  return { secureContext: await se.identityTlsContext({ chain, ca: anchors }) };
}

/**
 * `imprint device update`: one firmware-agent cycle on a simulated device's state file: boot, TUF
 * refresh from Imprint's repository, the releases staged to this device (mutual TLS), stage,
 * reboot through secure boot, health check, confirm or revert, and a signed report over mutual TLS.
 * Exits 1 when an update was refused or reverted.
 */
export function deviceUpdateCommand(): Command {
  return new Command('update')
    .description('update a simulated device through TUF and secure boot, and report the result')
    .requiredOption('--state <file>', 'the device state file')
    .requiredOption('--server <url>', 'Imprint base URL (https://host:port)')
    .option('--ca <pem-file>', 'CA certificate(s) of the server')
    .option('--root <file>', "the manufacturer's TUF root (1.root.json) when the device trusts none yet")
    .option('--fail-health-check', 'the new image fails its self-test (it is reverted)')
    .option('--no-report', 'do not send the signed report')
    .action(async (o: UpdateOpts, self: Command) => {
      if (!existsSync(o.state)) throw new ValidationError('ERR_VALIDATION', `no device state at ${o.state}`);
      const device = SimulatedDevice.open(o.state);
      const config = readDeviceConfig(device);
      const store = device.trustedMetadata();
      if (store.load('root') === undefined) {
        if (o.root === undefined) {
          throw new ValidationError(
            'ERR_DEVICE_NO_TUF_ROOT',
            'the device trusts no TUF root yet: give --root with the manufacturer 1.root.json',
          );
        }
        store.save('root', new Uint8Array(readFileSync(o.root)));
      }
      const ca = o.ca === undefined ? undefined : readFileSync(o.ca, 'utf8');
      const base = o.server.replace(/\/$/, '');
      const repo = `${base}/tuf/${encodeURIComponent(config.tenantId)}`;
      const client = new UpdateClient({
        fetcher: deviceFetcher(ca === undefined ? {} : { ca }),
        store,
        metadataBaseUrl: repo,
        targetBaseUrl: `${repo}/targets`,
        clock: systemClock,
      });
      const tls = await identityTls(device, ca);
      const result = await runUpdateCycle(device, {
        client,
        modelId: config.modelId,
        healthy: () => Promise.resolve(o.failHealthCheck !== true),
        rollout: rolloutOf({ serverUrl: base, tls }),
        ...(o.report
          ? {
              report: installReporter({
                serverUrl: base,
                config,
                se: device.secureElement,
                tls,
                clock: systemClock,
              }),
            }
          : {}),
      });
      print(self, device.serial, result);
      if (result.outcome === 'refused' || result.outcome === 'reverted') process.exitCode = 1;
    });
}

function print(cmd: Command, serial: string, r: UpdateCycleResult): void {
  if (cmd.optsWithGlobals<{ json?: boolean }>().json === true) {
    output(cmd, { serial, ...r });
    return;
  }
  for (const e of r.events) process.stdout.write(`  ${e.step.padEnd(8)} ${e.detail}\n`);
  const refusal = r.refusal === undefined ? '' : ` (${r.refusal.code})`;
  process.stdout.write(
    `${serial}: ${r.outcome}${refusal}, running ${r.after.version} (was ${r.before.version}), security counter ${r.securityCounter}\n`,
  );
}
