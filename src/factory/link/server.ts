import type { Duplex } from 'node:stream';
import { ImprintError } from '../../core/errors.ts';
import { FRAME_KIND, FrameDecoder, encodeFrame, type Frame } from './frame.ts';
import { decodeRequest, encodeResponse, type LinkResponse } from './messages.ts';
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
  #last: { seq: number; frame: Uint8Array } | undefined;
  #inFlight: number | undefined;
  #queue: Promise<void> = Promise.resolve();
  /** Frames dropped for a bad CRC, COBS block, version or size. */
  faults = 0;

  constructor(stream: Duplex, handler: LinkHandler) {
    this.#stream = stream;
    this.#handler = handler;
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
    try {
      if (req.m === 'hello') return { ok: true, r: await this.#hello(req.p) };
      return { ok: true, r: await this.#handler(req.m, req.p) };
    } catch (e) {
      if (e instanceof ImprintError) return { ok: false, code: e.code, message: e.message };
      return { ok: false, code: 'ERR_AGENT_INTERNAL', message: 'the device failed internally' };
    }
  }

  async #hello(p: Record<string, unknown>): Promise<Record<string, unknown>> {
    const offered = Array.isArray(p.versions) ? p.versions : [];
    const version = LINK_VERSIONS.find((v) => offered.includes(v));
    if (version === undefined) throw new ImprintError('ERR_LINK_VERSION', 400, 'no common link version');
    return { version, ...(await this.#handler('hello', p)) };
  }

  #write(frame: Uint8Array): void {
    if (!this.#stream.destroyed && this.#stream.writable) this.#stream.write(frame);
  }
}
