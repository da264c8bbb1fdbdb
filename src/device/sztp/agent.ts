/**
 * The SZTP device agent (RFC 8572 §5): walks its sources of bootstrap servers, follows redirects (unsigned
 * ones from untrusted servers only provisionally, at most 10), accepts onboarding information only when
 * trusted, and reports progress only to trusted servers.
 */
import { randomBytes } from 'node:crypto';
import { ImprintError } from '../../core/errors.ts';
import { cmsCertificates } from '../../sztp/cms/signed-data.ts';
import { parseErrors } from '../../sztp/restconf-errors.ts';
import { parseBootstrapOutput, serializeBootstrapInput } from '../../sztp/rpc-bootstrap.ts';
import { serializeProgressInput } from '../../sztp/rpc-progress.ts';
import type {
  Encoding,
  GetBootstrappingDataInput,
  GetBootstrappingDataOutput,
  ProgressType,
  RestconfError,
} from '../../sztp/types.ts';
import { postRpc, type RpcResponse } from './client.ts';
import type { PreconfiguredState, ServerRef } from './identity.ts';
import { applyOnboarding } from './onboard.ts';
import type { DevicePlatform } from './platform.ts';
import { openBootstrapData } from './verify.ts';

/** The most redirects the agent follows from one source (RFC 8572 §5.5 leaves the bound to the device). */
export const MAX_REDIRECTS = 10;

/** One thing that happened, for the device's own log. */
export interface AgentEvent {
  readonly server: string;
  readonly trusted: boolean;
  readonly what: string;
  readonly code?: string;
}

/** The outcome of a bootstrapping attempt. */
export interface AgentResult {
  readonly ok: boolean;
  /** The server whose onboarding information was applied. */
  readonly server?: string;
  readonly error?: { code: string; message: string };
  readonly events: readonly AgentEvent[];
  /** Progress reports actually sent, in order. */
  readonly reports: readonly { server: string; type: ProgressType; message?: string }[];
}

/** Options of one run. */
export interface AgentOptions {
  readonly state: PreconfiguredState;
  readonly platform: DevicePlatform;
  readonly encoding?: Encoding;
  /** Servers learnt from DHCP or DNS: untrusted, contacted after the well-known ones. */
  readonly discovered?: readonly ServerRef[];
  /**
   * Bootstrapping data found without a server (RFC 8572 §4.2 device-specific DNS TXT records): untrusted,
   * processed after the well-known servers and before the discovered ones; nothing is reported for it.
   */
  readonly bootstrappingData?: readonly BootstrappingDataSource[];
}

/** Bootstrapping artifacts from a serverless source (DNS TXT, removable storage), named for the log. */
export interface BootstrappingDataSource {
  readonly source: string;
  readonly output: GetBootstrappingDataOutput;
}

/** Where one visit gets its answer: a bootstrap server, or data already in hand. */
type Target = { kind: 'server'; server: ServerRef } | ({ kind: 'data' } & BootstrappingDataSource);

type Outcome = { done: true } | { done: false; error: { code: string; message: string } };

function errorsOf(res: RpcResponse): RestconfError[] {
  try {
    return parseErrors(res.body, res.contentType.includes('xml') ? 'xml' : 'json');
  } catch {
    return []; // not a RESTCONF error body
  }
}

const key = (s: ServerRef) => `${s.address}:${s.port ?? 443}`;

/** Runs bootstrapping once over every source until one succeeds. */
export async function runAgent(options: AgentOptions): Promise<AgentResult> {
  const events: AgentEvent[] = [];
  const reports: { server: string; type: ProgressType; message?: string }[] = [];
  const enc = options.encoding ?? 'json';
  const { state, platform } = options;
  let lastError: { code: string; message: string } = {
    code: 'ERR_SZTP_NO_BOOTSTRAP_SERVER',
    message: 'no bootstrap server gave usable data',
  };

  /** Asks one server (or takes data in hand) and acts on the answer. */
  const visit = async (target: Target, trusted: boolean, redirects: number): Promise<Outcome> => {
    const name = target.kind === 'server' ? key(target.server) : target.source;
    const note = (what: string, code?: string) =>
      events.push({ server: name, trusted, what, ...(code !== undefined ? { code } : {}) });
    if (target.kind === 'data') return answer(target.output, undefined, undefined, false, redirects, note);
    const server = target.server;
    const nonce = new Uint8Array(randomBytes(16));
    const os = platform.currentOs();
    const base: GetBootstrappingDataInput = {
      signedDataPreferred: !trusted,
      ...(state.hwModel !== undefined ? { hwModel: state.hwModel } : {}),
      osName: os.name,
      osVersion: os.version,
      nonce,
      ...(state.csr !== undefined ? { csrSupport: state.csr.support } : {}),
    };
    let res;
    try {
      res = await postRpc(
        server,
        state.identity,
        'get-bootstrapping-data',
        serializeBootstrapInput(base, enc),
        enc,
        trusted,
      );
      // RFC 9646: a server asking for a CSR answers missing-attribute with csr-request; send one once.
      const csrRequest = res.status === 400 ? errorsOf(res)[0]?.csrRequest : undefined;
      if (csrRequest !== undefined && state.csr !== undefined) {
        note('csr requested');
        const csr = await state.csr.make(csrRequest);
        const { csrSupport: _drop, ...again } = base;
        res = await postRpc(
          server,
          state.identity,
          'get-bootstrapping-data',
          serializeBootstrapInput({ ...again, csr: { format: 'p10-csr', value: csr } }, enc),
          enc,
          trusted,
        );
      }
    } catch (e) {
      note('unreachable', 'ERR_SZTP_SERVER_UNREACHABLE');
      return {
        done: false,
        error: {
          code: 'ERR_SZTP_SERVER_UNREACHABLE',
          message: e instanceof Error ? e.message : 'unreachable',
        },
      };
    }
    if (res.status !== 200) {
      const tag = errorsOf(res)[0]?.tag ?? `http-${res.status}`;
      note(`refused: ${tag}`, 'ERR_SZTP_SERVER_REFUSED');
      return {
        done: false,
        error: { code: 'ERR_SZTP_SERVER_REFUSED', message: `server answered ${res.status} ${tag}` },
      };
    }
    return answer(res.body, nonce, server, trusted, redirects, note);
  };

  /**
   * Acts on one answer: a RESTCONF body from `server`, or artifacts from a serverless source (no server: no
   * nonce, no reports). Follows redirects, applies trusted onboarding information.
   */
  const answer = async (
    body: string | GetBootstrappingDataOutput,
    nonce: Uint8Array | undefined,
    server: ServerRef | undefined,
    trusted: boolean,
    redirects: number,
    note: (what: string, code?: string) => void,
  ): Promise<Outcome> => {
    const name = server !== undefined ? key(server) : '';
    let level: 'minimal' | 'verbose' = 'minimal';
    // Reports go only to servers the device trusts: TLS-authenticated, or proven by owner-signed data.
    let reportTrusted = trusted;
    const report = async (type: ProgressType, message?: string): Promise<void> => {
      if (!reportTrusted || server === undefined) return;
      if (level === 'minimal' && !type.startsWith('bootstrap-')) return;
      const body = serializeProgressInput(
        { progressType: type, ...(message !== undefined ? { message } : {}) },
        enc,
      );
      await postRpc(server, state.identity, 'report-progress', body, enc, trusted).catch(() => undefined);
      reports.push({ server: name, type, ...(message !== undefined ? { message } : {}) });
    };
    let opened;
    try {
      const out = typeof body === 'string' ? parseBootstrapOutput(body, enc) : body;
      level = out.reportingLevel ?? 'minimal';
      await report('bootstrap-initiated');
      await report('parsing-initiated');
      opened = await openBootstrapData(out, state, nonce);
    } catch (e) {
      const code = e instanceof ImprintError ? e.code : 'ERR_SZTP_CONVEYED_INFO_INVALID';
      note('rejected', code);
      await report('parsing-error', code);
      await report('bootstrap-error', code);
      return { done: false, error: { code, message: e instanceof Error ? e.message : 'invalid data' } };
    }
    if (opened.ownerVerified) reportTrusted = true;
    const trustedData = trusted || opened.ownerVerified;
    if (opened.info.kind === 'redirect') {
      await report('parsing-complete');
      if (redirects >= MAX_REDIRECTS) {
        note('too many redirects', 'ERR_SZTP_TOO_MANY_REDIRECTS');
        await report('bootstrap-error', 'ERR_SZTP_TOO_MANY_REDIRECTS');
        return {
          done: false,
          error: { code: 'ERR_SZTP_TOO_MANY_REDIRECTS', message: `more than ${MAX_REDIRECTS} redirects` },
        };
      }
      note(trustedData ? 'redirect' : 'redirect (provisional)');
      let last: Outcome = { done: false, error: lastError };
      for (const s of opened.info.redirect.bootstrapServers) {
        let anchors: Uint8Array[] | undefined;
        try {
          anchors =
            s.trustAnchor === undefined ? undefined : cmsCertificates(s.trustAnchor).map((c) => c.der);
        } catch {
          anchors = undefined;
        }
        const next: ServerRef = {
          address: s.address,
          ...(s.port !== undefined ? { port: s.port } : {}),
          ...(anchors !== undefined ? { trustAnchors: anchors } : {}),
        };
        // A trust anchor learnt from untrusted, unsigned data authenticates nothing (RFC 8572 §5.5).
        last = await visit(
          { kind: 'server', server: next },
          trustedData && anchors !== undefined,
          redirects + 1,
        );
        if (last.done || last.error.code === 'ERR_SZTP_TOO_MANY_REDIRECTS') return last;
      }
      return last;
    }
    if (!trustedData) {
      note('untrusted onboarding information ignored', 'ERR_SZTP_ONBOARDING_UNTRUSTED');
      return {
        done: false,
        error: {
          code: 'ERR_SZTP_ONBOARDING_UNTRUSTED',
          message: 'onboarding information from an untrusted source',
        },
      };
    }
    await report('parsing-complete');
    try {
      await applyOnboarding(opened.info.onboarding, platform, report);
    } catch (e) {
      const code = e instanceof ImprintError ? e.code : 'ERR_SZTP_ONBOARDING_FAILED';
      note('onboarding failed', code);
      await report('bootstrap-error', code);
      return { done: false, error: { code, message: e instanceof Error ? e.message : 'onboarding failed' } };
    }
    await report('bootstrap-complete');
    note('bootstrap-complete');
    return { done: true };
  };

  const sources: [Target, boolean][] = [
    ...state.bootstrapServers.map((s): [Target, boolean] => [
      { kind: 'server', server: { ...s, trustAnchors: s.trustAnchors ?? state.serverTrustAnchors } },
      true,
    ]),
    ...(options.bootstrappingData ?? []).map((d): [Target, boolean] => [{ kind: 'data', ...d }, false]),
    ...(options.discovered ?? []).map((s): [Target, boolean] => [{ kind: 'server', server: s }, false]),
  ];
  for (const [target, trusted] of sources) {
    const r = await visit(target, trusted, 0);
    if (r.done) {
      const last = events.at(-1);
      return { ok: true, ...(last !== undefined ? { server: last.server } : {}), events, reports };
    }
    lastError = r.error;
  }
  return { ok: false, error: lastError, events, reports };
}
