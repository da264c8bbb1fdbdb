/** Declarative leaf certificate profiles (validity, key usages, EKUs, subject template, extensions). */
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import type { NameAttr } from './asn1.ts';
import { EKU, type SanEntry } from './extensions.ts';
import type { CaRole, ProfileName } from './types.ts';
import { ValidationError } from '../core/errors.ts';

/** How a leaf certificate of one kind is made. */
export interface LeafProfile {
  readonly name: ProfileName;
  /** The CA role that issues it. */
  readonly issuer: CaRole;
  readonly validityDays: number;
  /** May the request ask for notAfter 99991231235959Z (802.1AR "no well-defined expiration")? */
  readonly allowNoExpiry: boolean;
  readonly keyUsage: number;
  readonly extKeyUsage: readonly string[];
  /** The subject must be a registered device of the caller's tenant (serial from the CSR's serialNumber). */
  readonly device: boolean;
  /**
   * Which tenant the device must belong to: its manufacturer (identity issued at the factory) or its
   * current owner (operational certificates follow the device through claims, sales and resales).
   */
  readonly deviceTenant: 'manufacturer' | 'owner';
  /** Subject template; `{serial}`, `{tenant}`, `{model}`, `{cn}` are filled from validated values. */
  readonly subject: readonly (readonly [NameAttr[0], string])[];
  /** SAN entry types the CSR may request (anything else, and any other extension, is refused). */
  readonly san: readonly SanEntry['type'][];
  readonly ocspNoCheck: boolean;
  /** Issuing binds the key to the device as its identity key (devices.identity_key_fingerprint). */
  readonly bindsIdentityKey: boolean;
}

const SIG = KeyUsageFlags.digitalSignature;

/** The built-in profiles. */
export const PROFILES: Readonly<Record<ProfileName, LeafProfile>> = {
  idevid: {
    name: 'idevid',
    issuer: 'manufacturer',
    validityDays: 365 * 20,
    allowNoExpiry: true,
    keyUsage: SIG,
    extKeyUsage: [EKU.clientAuth],
    device: true,
    deviceTenant: 'manufacturer',
    subject: [
      ['O', '{tenant}'],
      ['OU', '{model}'],
      ['CN', '{serial}'],
      ['serialNumber', '{serial}'],
    ],
    san: ['hmn'],
    ocspNoCheck: false,
    bindsIdentityKey: true,
  },
  ldevid: {
    name: 'ldevid',
    issuer: 'operational',
    validityDays: 90,
    allowNoExpiry: false,
    keyUsage: SIG,
    extKeyUsage: [EKU.clientAuth],
    device: true,
    deviceTenant: 'owner',
    subject: [
      ['O', '{tenant}'],
      ['CN', '{serial}'],
      ['serialNumber', '{serial}'],
    ],
    san: ['hmn', 'dns', 'uri'],
    ocspNoCheck: false,
    bindsIdentityKey: false,
  },
  'code-signing': {
    name: 'code-signing',
    issuer: 'code-signing',
    validityDays: 365 * 3,
    allowNoExpiry: false,
    keyUsage: SIG,
    extKeyUsage: [EKU.codeSigning],
    device: false,
    deviceTenant: 'owner',
    subject: [
      ['O', '{tenant}'],
      ['CN', '{cn}'],
    ],
    san: [],
    ocspNoCheck: false,
    bindsIdentityKey: false,
  },
  'tls-server': {
    name: 'tls-server',
    issuer: 'tls',
    validityDays: 397,
    allowNoExpiry: false,
    keyUsage: SIG | KeyUsageFlags.keyEncipherment,
    extKeyUsage: [EKU.serverAuth],
    device: false,
    deviceTenant: 'owner',
    subject: [
      ['O', '{tenant}'],
      ['CN', '{cn}'],
    ],
    san: ['dns', 'ip'],
    ocspNoCheck: false,
    bindsIdentityKey: false,
  },
  'tls-client': {
    name: 'tls-client',
    issuer: 'tls',
    validityDays: 397,
    allowNoExpiry: false,
    keyUsage: SIG,
    extKeyUsage: [EKU.clientAuth],
    device: false,
    deviceTenant: 'owner',
    subject: [
      ['O', '{tenant}'],
      ['CN', '{cn}'],
    ],
    san: ['dns', 'email', 'uri'],
    ocspNoCheck: false,
    bindsIdentityKey: false,
  },
  'ocsp-signer': {
    name: 'ocsp-signer',
    issuer: 'manufacturer', // any issuing CA; the hierarchy issues one per CA
    validityDays: 90,
    allowNoExpiry: false,
    keyUsage: SIG,
    extKeyUsage: [EKU.ocspSigning],
    device: false,
    deviceTenant: 'owner',
    subject: [
      ['O', '{tenant}'],
      ['CN', '{cn}'],
    ],
    san: [],
    ocspNoCheck: true,
    bindsIdentityKey: false,
  },
};

/** The profile with this name. Throws ERR_PROFILE_UNKNOWN. */
export function getProfile(name: string): LeafProfile {
  const p = (PROFILES as Record<string, LeafProfile | undefined>)[name];
  if (p === undefined)
    throw new ValidationError('ERR_PROFILE_UNKNOWN', `unknown certificate profile ${name}`);
  return p;
}

/** The subject attributes of a profile's template with the values filled in. */
export function fillSubject(profile: LeafProfile, values: Readonly<Record<string, string>>): NameAttr[] {
  return profile.subject
    .map(([type, template]): NameAttr => [
      type,
      template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? ''),
    ])
    .filter(([, v]) => v !== '');
}
