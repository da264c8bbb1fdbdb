/** Records of RFC 8572 (SZTP), RFC 8366 (vouchers) and RFC 9646 (CSR), as the rest of Imprint sees them. */

/** YANG module names and XML namespaces used on the wire. */
export const MODULES = {
  conveyed: 'ietf-sztp-conveyed-info',
  server: 'ietf-sztp-bootstrap-server',
  restconf: 'ietf-restconf',
  csr: 'ietf-sztp-csr',
  ztpTypes: 'ietf-ztp-types',
  voucher: 'ietf-voucher',
} as const;

/** XML namespace of a YANG module. */
export function nsOf(module: string): string {
  return `urn:ietf:params:xml:ns:yang:${module}`;
}

/** CMS content types of RFC 8572 §3 and RFC 8366 §8. */
export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  conveyedXml: '1.2.840.113549.1.9.16.1.42',
  conveyedJson: '1.2.840.113549.1.9.16.1.43',
  voucher: '1.2.840.113549.1.9.16.1.40',
} as const;

/** One bootstrap server of redirect information. */
export interface BootstrapServer {
  readonly address: string;
  /** Defaults to 443 when absent. */
  readonly port?: number;
  /** Degenerate CMS SignedData holding the server's trust anchor certificates. */
  readonly trustAnchor?: Uint8Array;
}

/** `redirect-information`. */
export interface RedirectInformation {
  readonly bootstrapServers: readonly BootstrapServer[];
}

/** One boot image verification (only sha-256 is defined by RFC 8572). */
export interface ImageVerification {
  readonly hashAlgorithm: string;
  readonly hashValue: Uint8Array;
}

/** `boot-image`. */
export interface BootImage {
  readonly osName?: string;
  readonly osVersion?: string;
  readonly downloadUris: readonly string[];
  readonly imageVerification: readonly ImageVerification[];
}

/** `onboarding-information`. */
export interface OnboardingInformation {
  readonly bootImage?: BootImage;
  readonly configurationHandling?: 'merge' | 'replace';
  readonly preConfigurationScript?: Uint8Array;
  readonly configuration?: Uint8Array;
  readonly postConfigurationScript?: Uint8Array;
}

/** Either kind of conveyed information. */
export type ConveyedInformation =
  | { readonly kind: 'redirect'; readonly redirect: RedirectInformation }
  | { readonly kind: 'onboarding'; readonly onboarding: OnboardingInformation };

/** Wire encoding of YANG-modelled data. */
export type Encoding = 'json' | 'xml';

/** RFC 8572 §7.3 progress types. */
export const PROGRESS_TYPES = [
  'bootstrap-initiated',
  'parsing-initiated',
  'parsing-warning',
  'parsing-error',
  'parsing-complete',
  'boot-image-initiated',
  'boot-image-warning',
  'boot-image-error',
  'boot-image-mismatch',
  'boot-image-installed-rebooting',
  'boot-image-complete',
  'pre-script-initiated',
  'pre-script-warning',
  'pre-script-error',
  'pre-script-complete',
  'config-initiated',
  'config-warning',
  'config-error',
  'config-complete',
  'post-script-initiated',
  'post-script-warning',
  'post-script-error',
  'post-script-complete',
  'bootstrap-warning',
  'bootstrap-error',
  'bootstrap-complete',
  'informational',
] as const;
/** One of PROGRESS_TYPES. */
export type ProgressType = (typeof PROGRESS_TYPES)[number];

/** RFC 9646 CSR formats. */
export const CSR_FORMATS = ['p10-csr', 'cmc-csr', 'cmp-csr'] as const;
/** One of CSR_FORMATS. */
export type CsrFormat = (typeof CSR_FORMATS)[number];

/** RFC 9646 `csr-support` sent by a device able to make a CSR. */
export interface CsrSupport {
  /** DER AlgorithmIdentifiers of keys the device can generate; absent when it cannot generate keys. */
  readonly supportedAlgorithms?: readonly Uint8Array[];
  readonly supportedFormats: readonly CsrFormat[];
}

/** RFC 9646 `csr` sent by a device on its second request. */
export interface CsrInput {
  readonly format: CsrFormat;
  readonly value: Uint8Array;
}

/** RFC 9646 `csr-request` returned in error-info. */
export interface CsrRequest {
  readonly selectedAlgorithm?: Uint8Array;
  readonly selectedFormat: CsrFormat;
  /** DER CertificationRequestInfo template. */
  readonly certReqInfo?: Uint8Array;
}

/** Input of `get-bootstrapping-data`. */
export interface GetBootstrappingDataInput {
  readonly signedDataPreferred: boolean;
  readonly hwModel?: string;
  readonly osName?: string;
  readonly osVersion?: string;
  readonly nonce?: Uint8Array;
  readonly csrSupport?: CsrSupport;
  readonly csr?: CsrInput;
}

/** Output of `get-bootstrapping-data`. */
export interface GetBootstrappingDataOutput {
  readonly reportingLevel?: 'minimal' | 'verbose';
  readonly conveyedInformation: Uint8Array;
  readonly ownerCertificate?: Uint8Array;
  readonly ownershipVoucher?: Uint8Array;
}

/** An SSH host key reported on bootstrap-complete. */
export interface SshHostKey {
  readonly algorithm: string;
  readonly keyData: Uint8Array;
}

/** Input of `report-progress`. */
export interface ReportProgressInput {
  readonly progressType: ProgressType;
  readonly message?: string;
  readonly sshHostKeys?: readonly SshHostKey[];
  readonly trustAnchorCerts?: readonly Uint8Array[];
}

/** One `ietf-restconf:errors/error` entry (RFC 8040 §7.1). */
export interface RestconfError {
  readonly type: 'transport' | 'rpc' | 'protocol' | 'application';
  readonly tag: string;
  readonly appTag?: string;
  readonly path?: string;
  readonly message?: string;
  readonly csrRequest?: CsrRequest;
}
