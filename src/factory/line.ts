import type { Duplex } from 'node:stream';
import { ImprintError } from '../core/errors.ts';
import { LinkClient, type LinkClientOptions } from './link/client.ts';
import { provisionDevice, type ProvisionResult } from './station.ts';
import type { FactoryApi, FirmwareBundle } from './types.ts';

/** One device that could not be provisioned, with where it failed. */
export interface LineFailure {
  readonly device: string;
  readonly step: string;
  readonly code: string;
  readonly message: string;
}

/** What a line run did. */
export interface LineSummary {
  readonly provisioned: number;
  /** Devices a previous run had already finished (a resumed batch). */
  readonly already: number;
  readonly failures: LineFailure[];
  readonly seconds: number;
  /** Link bytes exchanged (both directions), for wire-time comparisons. */
  readonly bytes: number;
}

/** How a line runs. */
export interface LineOptions {
  readonly api: FactoryApi;
  readonly batchId: string;
  /** Device sessions to run (one device each). */
  readonly count: number;
  /** Devices provisioned at the same time. */
  readonly parallel: number;
  /** Opens the factory port of the next device in the fixture. */
  readonly connect: () => Promise<Duplex>;
  readonly link?: LinkClientOptions;
  readonly chunkSize?: number;
  /** Called after every device, success or failure. */
  readonly onDevice?: (r: ProvisionResult | LineFailure) => void;
}

/**
 * Runs a production line: `parallel` workers each take the next device until `count` sessions ran.
 * Failures are collected (each already aborted on the server), never fatal to the line.
 */
export async function runLine(o: LineOptions): Promise<LineSummary> {
  const started = performance.now();
  const firmwareCache = new Map<string, Promise<FirmwareBundle>>();
  let next = 0;
  let provisioned = 0;
  let already = 0;
  let bytes = 0;
  const failures: LineFailure[] = [];
  const worker = async (): Promise<void> => {
    while (next < o.count) {
      next++;
      let link: LinkClient | undefined;
      try {
        link = new LinkClient(await o.connect(), o.link);
        const r = await provisionDevice(link, o.api, {
          batchId: o.batchId,
          firmwareCache,
          ...(o.chunkSize === undefined ? {} : { chunkSize: o.chunkSize }),
        });
        if (r.outcome === 'provisioned') provisioned++;
        else already++;
        o.onDevice?.(r);
      } catch (e) {
        const f = failureOf(e, link?.device ?? 'unknown');
        failures.push(f);
        o.onDevice?.(f);
      } finally {
        if (link !== undefined) {
          bytes += link.bytesIn + link.bytesOut;
          link.close();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallel, o.count)) }, worker));
  return { provisioned, already, failures, seconds: (performance.now() - started) / 1000, bytes };
}

function failureOf(e: unknown, device: string): LineFailure {
  const d = e instanceof ImprintError ? e.details : undefined;
  return {
    device: typeof d?.device === 'string' ? d.device : device,
    step: typeof d?.step === 'string' ? d.step : 'connect',
    code: e instanceof ImprintError ? e.code : 'ERR_FACTORY_STATION_INTERNAL',
    message: e instanceof Error ? e.message : String(e),
  };
}
