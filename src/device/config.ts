/** The per-device configuration the factory writes to the config slot (see factory/runs.ts deviceConfig). */
import { ConflictError } from '../core/errors.ts';
import { decodeCbor } from '../factory/link/cbor-decode.ts';
import type { SimulatedDevice } from './simulator.ts';

/** What a provisioned device knows about itself. */
export interface DeviceConfig {
  readonly serial: string;
  readonly deviceId: string;
  readonly batchId: string;
  readonly tenantId: string;
  readonly modelId: string;
  readonly model: string;
}

const FIELDS = ['serial', 'deviceId', 'batchId', 'tenantId', 'modelId', 'model'] as const;

/** Reads and checks the config slot. Throws ERR_DEVICE_NOT_PROVISIONED. */
export function readDeviceConfig(device: SimulatedDevice): DeviceConfig {
  const raw = device.readSlot('config');
  const value = raw === undefined ? undefined : decodeCbor(raw);
  const ok =
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Uint8Array) &&
    !Array.isArray(value) &&
    FIELDS.every((f) => typeof (value as Record<string, unknown>)[f] === 'string');
  if (!ok) {
    throw new ConflictError(
      'ERR_DEVICE_NOT_PROVISIONED',
      `device ${device.serial} holds no factory configuration (provision it first)`,
    );
  }
  const v = value as Record<(typeof FIELDS)[number], string>;
  return {
    serial: v.serial,
    deviceId: v.deviceId,
    batchId: v.batchId,
    tenantId: v.tenantId,
    modelId: v.modelId,
    model: v.model,
  };
}
