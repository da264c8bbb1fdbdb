import type { Duplex } from 'node:stream';
import { ImprintError } from '../../core/errors.ts';
import { FRAME_KIND, FrameDecoder, encodeFrame, type Frame } from './frame.ts';
import {
  batchCalls,
  decodeRequest,
  encodeResponse,
  type LinkRequest,
  type LinkResponse,
} from './messages.ts';
import { LINK_VERSIONS } from './client.ts';

/** The device's request handler: a method and its parameters in, a result out (ImprintErrors are relayed). */
export type LinkHandler = (
  method: string,
  params: Record<string, unknown>,
) => Promise<Record<string, unknown>>;

/**
 * The device side of the provisioning link: requests are handled one at a time in order; a duplicate
 * of the last sequence number gets the cached response again instead of being re-executed.
 */
export class LinkServer {
  readonly #stream: Duplex;
  readonly #handler: LinkHandler;
  readonly #decoder = new FrameDecoder();
  readonly #versions: readonly number[];
  #last: { seq: number; frame: Uint8Array } | undefined;
  #inFlight: number | undefined;
  #queue: Promise<void> = Promise.resolve();
  /** Frames dropped for a bad CRC, COBS block, version or size. */
  faults = 0;

  /** `versions`: the link versions this device speaks (default LINK_VERSIONS; tests play older devices). */
  constructor(stream: Duplex, handler: LinkHandler, options: { versions?: readonly number[] } = {}) {
    this.#stream = stream;
    this.#handler = handler;
    this.#versions = options.versions ?? LINK_VERSIONS;
    stream.on('data', (chunk: Buffer) => {
      for (const f of this.#decoder.push(chunk)) {
        if ('fault' in f) this.faults++;
        else if (f.kind === FRAME_KIND.request) this.#onRequest(f);
      }
    });
    stream.on('error', () => undefined);
  }

  #onRequest(f: Frame): void {
    if (this.#last?.seq === f.seq) {
      this.#write(this.#last.frame);
      return;
    }
    if (this.#inFlight === f.seq) return;
    this.#inFlight = f.seq;
    this.#queue = this.#queue.then(async () => {
      const res = await this.#handle(f.payload);
      const frame = encodeFrame({ kind: FRAME_KIND.response, seq: f.seq, payload: encodeResponse(res) });
      this.#last = { seq: f.seq, frame };
      this.#inFlight = undefined;
      this.#write(frame);
    });
  }

  async #handle(payload: Uint8Array): Promise<LinkResponse> {
    const req = decodeRequest(payload);
    if (req === undefined) return { ok: false, code: 'ERR_LINK_BAD_MESSAGE', message: 'undecodable request' };
    if (req.m === 'batch' && this.#versions.includes(2)) return this.#batch(req.p);
    return this.#call(req);
  }

  async #call(req: LinkRequest): Promise<LinkResponse> {
    try {
      if (req.m === 'hello') return { ok: true, r: await this.#hello(req.p) };
      return { ok: true, r: await this.#handler(req.m, req.p) };
    } catch (e) {
      if (e instanceof ImprintError) return { ok: false, code: e.code, message: e.message };
      return { ok: false, code: 'ERR_AGENT_INTERNAL', message: 'the device failed internally' };
    }
  }

  /**
   * Link v2: the calls of one request run in order and the first failure stops the rest, exactly as
   * a station that sent them one by one would have stopped; the reply lists the results so far and
   * that failure with its index.
   */
  async #batch(p: Record<string, unknown>): Promise<LinkResponse> {
    const calls = batchCalls(p);
    if (calls === undefined) return { ok: false, code: 'ERR_LINK_BAD_MESSAGE', message: 'malformed batch' };
    const results: Record<string, unknown>[] = [];
    for (const [at, c] of calls.entries()) {
      const res = await this.#call(c);
      if (!res.ok) return { ok: true, r: { results, failed: { at, code: res.code, message: res.message } } };
      results.push(res.r);
    }
    return { ok: true, r: { results } };
  }

  async #hello(p: Record<string, unknown>): Promise<Record<string, unknown>> {
    const offered = Array.isArray(p.versions) ? p.versions : [];
    const version = this.#versions.find((v) => offered.includes(v));
    if (version === undefined) throw new ImprintError('ERR_LINK_VERSION', 400, 'no common link version');
    return { version, ...(await this.#handler('hello', p)) };
  }

  #write(frame: Uint8Array): void {
    if (!this.#stream.destroyed && this.#stream.writable) this.#stream.write(frame);
  }
}
