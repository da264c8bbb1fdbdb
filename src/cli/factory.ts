import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { ValidationError } from '../core/errors.ts';
import { fromPemAll } from '../core/encoding.ts';
import { runLine, type LineFailure } from '../factory/line.ts';
import { decodeLabelPng, parseLabel, renderLabel } from '../factory/label.ts';
import { LinkClient } from '../factory/link/client.ts';
import { connectTcp, openSerial, parseHostPort } from '../factory/link/transport.ts';
import { localFactoryApi } from '../factory/local-api.ts';
import { verifyManifest } from '../factory/manifest.ts';
import type { FactoryServices } from '../factory/runtime.ts';
import { provisionDevice, type ProvisionResult } from '../factory/station.ts';
import type { FactoryApi, StationCaller } from '../factory/types.ts';
import { httpFactoryApi } from '../factory/http-api.ts';
import { mtlsFetch } from '../factory/mtls-fetch.ts';
import { importVendorManifest } from '../factory/vendor-import.ts';
import { cliActor, output } from './context.ts';

/** Opens the installation's factory services for one command; the command closes them. */
export type OpenFactory = (cmd: Command) => Promise<FactoryServices & { close(): Promise<void> }>;

async function using<T>(open: OpenFactory, cmd: Command, fn: (s: FactoryServices) => Promise<T>): Promise<T> {
  const s = await open(cmd);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function tenantOf(
  s: FactoryServices,
  nameOrId: string | undefined,
  kind: 'manufacturer' | 'owner' = 'manufacturer',
): Promise<string> {
  const tenants = await s.core.registry.listTenants();
  const hit =
    nameOrId === undefined
      ? tenants.find((t) => t.kind === kind)
      : tenants.find((t) => t.id === nameOrId || t.name === nameOrId);
  if (hit === undefined)
    throw new ValidationError('ERR_TENANT_NOT_FOUND', `no tenant ${nameOrId ?? `(${kind})`}`);
  return hit.id;
}

async function stationCaller(s: FactoryServices, stationId: string): Promise<StationCaller> {
  const st = await s.factory.batches.getStation(stationId);
  return { stationId: st.id, tenantId: st.tenantId, actor: `station:${st.id}` };
}

/** Station options shared by provision and run: local installation or a server over mTLS. */
interface StationOpts {
  station?: string;
  server?: string;
  cert?: string;
  key?: string;
  ca?: string;
}

/** Runs `fn` with the station's FactoryApi: over HTTPS with the station certificate, or in process. */
async function withStationApi<T>(
  open: OpenFactory,
  cmd: Command,
  o: StationOpts,
  fn: (api: FactoryApi) => Promise<T>,
): Promise<T> {
  if (o.server !== undefined) {
    if (o.cert === undefined || o.key === undefined)
      throw new ValidationError(
        'ERR_VALIDATION',
        '--server needs --cert and --key (the station certificate)',
      );
    const tls = {
      cert: readFileSync(o.cert, 'utf8'),
      key: readFileSync(o.key, 'utf8'),
      ...(o.ca === undefined ? {} : { ca: readFileSync(o.ca, 'utf8') }),
    };
    return fn(httpFactoryApi({ baseUrl: o.server, fetch: mtlsFetch(tls) }));
  }
  if (o.station === undefined)
    throw new ValidationError(
      'ERR_VALIDATION',
      'give --station (local installation) or --server with the station certificate',
    );
  const stationId = o.station;
  return using(open, cmd, async (s) => fn(localFactoryApi(s.factory, await stationCaller(s, stationId))));
}

function stationOptions(c: Command): Command {
  return c
    .option('--station <id>', 'this station (when running against the local installation)')
    .option('--server <url>', 'the Imprint server (station protocol over mTLS)')
    .option('--cert <pem>', 'station certificate chain (PEM)')
    .option('--key <pem>', 'station private key (PEM)')
    .option('--ca <pem>', 'server CA certificate (PEM)');
}

function int(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ValidationError('ERR_VALIDATION', `${name} must be a positive integer`);
  return n;
}

async function writeLabel(dir: string, r: ProvisionResult): Promise<void> {
  if (r.claimCode === undefined || r.fingerprint === undefined) return;
  const { png, svg } = await renderLabel({
    deviceId: r.deviceId,
    fingerprint: r.fingerprint,
    claimCode: r.claimCode,
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${r.serial}.png`), png);
  writeFileSync(join(dir, `${r.serial}.svg`), svg);
}

/** `imprint factory station|batch|provision|run`. */
export function factoryCommand(open: OpenFactory): Command {
  const cmd = new Command('factory').description('the factory floor: stations, batches, provisioning');
  const station = cmd.command('station').description('provisioning stations');
  station
    .command('create')
    .requiredOption('--name <name>', 'station name')
    .option('--tenant <name-or-id>', 'manufacturer tenant')
    .action(async (o: { name: string; tenant?: string }, self: Command) =>
      using(open, self, async (s) =>
        output(self, await s.factory.batches.createStation(cliActor(), await tenantOf(s, o.tenant), o.name)),
      ),
    );
  const batch = cmd.command('batch').description('production batches (identity quotas)');
  batch
    .command('create')
    .requiredOption('--model <id-or-name>', 'device model')
    .requiredOption('--count <n>', 'devices (identities) the batch may provision')
    .option('--station <id>', 'the only station allowed to run it')
    .option('--hours <h>', 'time window from now, in hours', '24')
    .option('--tenant <name-or-id>', 'manufacturer tenant')
    .action(
      async (
        o: { model: string; count: string; station?: string; hours: string; tenant?: string },
        self: Command,
      ) =>
        using(open, self, async (s) => {
          const tenantId = await tenantOf(s, o.tenant);
          const model = (await s.core.registry.listModels(tenantId)).find(
            (m) => m.id === o.model || m.name === o.model,
          );
          if (model === undefined) throw new ValidationError('ERR_MODEL_NOT_FOUND', `no model ${o.model}`);
          const now = s.core.clock.now().getTime();
          const b = await s.factory.batches.createBatch(cliActor(), {
            tenantId,
            modelId: model.id,
            quantity: int(o.count, '--count'),
            stationId: o.station ?? null,
            notBefore: new Date(now - 60_000).toISOString(),
            notAfter: new Date(now + Number(o.hours) * 3600_000).toISOString(),
          });
          output(self, b);
        }),
    );
  batch
    .command('show <id>')
    .action(async (id: string, _o: unknown, self: Command) =>
      using(open, self, async (s) => output(self, await s.factory.batches.progress(id))),
    );
  batch
    .command('close <id>')
    .option('--tenant <name-or-id>', 'manufacturer tenant')
    .action(async (id: string, o: { tenant?: string }, self: Command) =>
      using(open, self, async (s) =>
        output(self, await s.factory.batches.closeBatch(cliActor(), id, await tenantOf(s, o.tenant))),
      ),
    );

  stationOptions(
    cmd
      .command('provision')
      .description('provision the one device on a serial port')
      .requiredOption('--port <path>', 'serial device, e.g. /dev/ttyUSB0')
      .option('--baud <n>', 'baud rate', '115200')
      .requiredOption('--batch <id>', 'batch')
      .option('--labels <dir>', 'write the QR label (PNG + SVG) here'),
  ).action(
    async (o: StationOpts & { port: string; baud: string; batch: string; labels?: string }, self: Command) =>
      withStationApi(open, self, o, async (api) => {
        const link = new LinkClient(await openSerial(o.port, int(o.baud, '--baud')), {
          device: o.port,
          timeoutMs: 3000,
        });
        try {
          const r = await provisionDevice(link, api, { batchId: o.batch });
          if (o.labels !== undefined) await writeLabel(o.labels, r);
          output(self, {
            serial: r.serial,
            deviceId: r.deviceId,
            outcome: r.outcome,
            fingerprint: r.fingerprint ?? null,
          });
        } finally {
          link.close();
        }
      }),
  );

  stationOptions(cmd.command('run'))
    .description('run a production line of simulated or real fixtures over TCP')
    .requiredOption('--batch <id>', 'batch')
    .requiredOption('--count <n>', 'device sessions to run')
    .option('--parallel <p>', 'devices at a time', '8')
    .option(
      '--line <host:port>',
      'the fixture (imprint device simulate --count … --listen)',
      '127.0.0.1:7700',
    )
    .option('--labels <dir>', 'write QR labels (PNG + SVG) here')
    .option('--no-progress', 'no progress bar')
    .action(
      async (
        o: StationOpts & {
          batch: string;
          count: string;
          parallel: string;
          line: string;
          labels?: string;
          progress: boolean;
        },
        self: Command,
      ) =>
        withStationApi(open, self, o, async (api) => {
          const { host, port } = parseHostPort(o.line);
          const count = int(o.count, '--count');
          const bar =
            o.progress && process.stderr.isTTY
              ? new SingleBar({
                  format:
                    '{bar} {value}/{total} devices | {rate} devices/s | ETA {eta_formatted} | failed {failed}',
                  stream: process.stderr,
                })
              : undefined;
          const started = performance.now();
          let done = 0;
          let failed = 0;
          bar?.start(count, 0, { rate: '0.0', failed: 0 });
          const labels: Promise<void>[] = [];
          const summary = await runLine({
            api,
            batchId: o.batch,
            count,
            parallel: int(o.parallel, '--parallel'),
            connect: () => connectTcp(host, port),
            onDevice: (r: ProvisionResult | LineFailure) => {
              done++;
              if ('code' in r) failed++;
              else if (o.labels !== undefined) labels.push(writeLabel(o.labels, r));
              bar?.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(1), failed });
            },
          });
          bar?.stop();
          await Promise.all(labels);
          output(self, {
            provisioned: summary.provisioned,
            alreadyDone: summary.already,
            failed: summary.failures.length,
            seconds: Number(summary.seconds.toFixed(2)),
            devicesPerSecond: Number(((summary.provisioned + summary.already) / summary.seconds).toFixed(1)),
          });
          for (const f of summary.failures)
            process.stderr.write(`failed: device ${f.device}, step ${f.step}: ${f.code}\n`);
          if (summary.failures.length > 0) process.exitCode = 1;
        }),
    );
  return cmd;
}

/** `imprint manifest sign|verify|import-vendor`. */
export function manifestCommand(open: OpenFactory): Command {
  const cmd = new Command('manifest').description('signed batch manifests');
  cmd
    .command('sign')
    .requiredOption('--batch <id>', 'batch')
    .requiredOption('--out <file>', 'where to write the JWS')
    .option('--tenant <name-or-id>', 'manufacturer tenant')
    .action(async (o: { batch: string; out: string; tenant?: string }, self: Command) =>
      using(open, self, async (s) => {
        const r = await s.manifests.sign(cliActor(), await tenantOf(s, o.tenant), o.batch);
        writeFileSync(o.out, `${r.jws}\n`);
        output(self, { manifest: r.id, devices: r.devices, file: o.out });
      }),
    );
  cmd
    .command('verify <file>')
    .description('verify a manifest offline (no installation needed)')
    .option('--ca <pem>', 'trusted root/manufacturer CA certificate(s), PEM')
    .action((file: string, o: { ca?: string }, self: Command) => {
      const anchors = o.ca === undefined ? [] : fromPemAll(readFileSync(o.ca, 'utf8'), 'CERTIFICATE');
      const { manifest } = verifyManifest(readFileSync(file, 'utf8'), anchors);
      output(self, {
        ok: true,
        trusted: anchors.length > 0,
        manufacturer: manifest.manufacturer,
        batch: manifest.batchId,
        model: manifest.model,
        devices: manifest.devices.length,
      });
    });
  cmd
    .command('import-vendor <file>')
    .description("register devices from a silicon vendor's pre-provisioned secure-element manifest")
    .requiredOption('--vendor-ca <pem>', 'trusted vendor CA certificate(s), PEM')
    .requiredOption('--model <id-or-name>', 'device model')
    .option('--tenant <name-or-id>', 'manufacturer tenant')
    .action(async (file: string, o: { vendorCa: string; model: string; tenant?: string }, self: Command) =>
      using(open, self, async (s) => {
        const tenantId = await tenantOf(s, o.tenant);
        const model = (await s.core.registry.listModels(tenantId)).find(
          (m) => m.id === o.model || m.name === o.model,
        );
        if (model === undefined) throw new ValidationError('ERR_MODEL_NOT_FOUND', `no model ${o.model}`);
        const anchors = fromPemAll(readFileSync(o.vendorCa, 'utf8'), 'CERTIFICATE');
        output(
          self,
          await importVendorManifest(s.core, cliActor(), {
            tenantId,
            modelId: model.id,
            jws: readFileSync(file, 'utf8'),
            anchors,
          }),
        );
      }),
    );
  return cmd;
}

/** `imprint claim --qr label.png --tenant OWNER` (or `--label TEXT`). */
export function claimCommand(open: OpenFactory): Command {
  return new Command('claim')
    .description('bind a device to its owner tenant with the QR label, once')
    .option('--qr <png>', 'photo/scan of the label (PNG)')
    .option('--label <text>', 'the label text instead of a picture')
    .requiredOption('--tenant <name-or-id>', 'owner tenant')
    .action(async (o: { qr?: string; label?: string; tenant: string }, self: Command) => {
      const payload =
        o.qr !== undefined
          ? decodeLabelPng(readFileSync(o.qr))
          : o.label !== undefined
            ? parseLabel(o.label)
            : undefined;
      if (payload === undefined) throw new ValidationError('ERR_VALIDATION', 'give --qr or --label');
      await using(open, self, async (s) => {
        const d = await s.claims.claim(cliActor(), await tenantOf(s, o.tenant, 'owner'), payload);
        output(self, { deviceId: d.id, serial: d.serial, tenantId: d.tenantId, state: d.state });
      });
    });
}

export { deviceSimulateCommand } from './simulate.ts';
