/** Records every other feature refers to: tenants, device models, devices. */

/** A tenant is either the manufacturer running the factory or an owner that buys devices. */
export type TenantKind = 'manufacturer' | 'owner';

/** Life-cycle states of a device record. */
export const DEVICE_STATES = [
  'registered',
  'provisioning',
  'provisioned',
  'claimed',
  'onboarded',
  'deprovisioned',
] as const;
/** One of DEVICE_STATES. */
export type DeviceState = (typeof DEVICE_STATES)[number];

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly kind: TenantKind;
  readonly createdAt: string;
}

export interface DeviceModel {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
}

export interface Device {
  readonly id: string;
  readonly serial: string;
  readonly manufacturerId: string;
  readonly tenantId: string;
  readonly modelId: string;
  readonly state: DeviceState;
  readonly identityKeyFingerprint: string | null;
  readonly batchId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}
