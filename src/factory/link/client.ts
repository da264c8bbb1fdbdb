import type { Duplex } from 'node:stream';
import { randomInt } from 'node:crypto';
import { FRAME_KIND, FrameDecoder, MAX_FRAME, encodeFrame } from './frame.ts';
import { LinkError } from './errors.ts';
import { decodeResponse, encodeRequest } from './messages.ts';

/** Link versions this side speaks, newest first. */
export const LINK_VERSIONS = [1] as const;

/** Tunables of the station side of the link. */
export interface LinkClientOptions {
  /** Name used in errors until the device has said who it is. */
  readonly device?: string;
  /** Per-attempt response timeout (default 2000 ms). */
  readonly timeoutMs?: number;
  /** Re-sends after a timeout (default 4). */
  readonly retries?: number;
}

interface Pending {
  readonly seq: number;
  readonly step: string;
  bad: number;
  resolve(r: Record<string, unknown>): void;
  reject(e: Error): void;
}

/**
 * The station side of the provisioning link: one request at a time, each retried with the same
 * sequence number until its response arrives (the device replays its last response on a duplicate).
 */
export class LinkClient {
  readonly #stream: Duplex;
  readonly #decoder = new FrameDecoder();
  readonly #timeoutMs: number;
  readonly #retries: number;
  #seq = randomInt(0, 0x7fffffff);
  #pending: Pending | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #gone: string | undefined;
  /** Bytes written and read, for wire-time measurements. */
  bytesOut = 0;
  bytesIn = 0;
  device: string;

  constructor(stream: Duplex, options: LinkClientOptions = {}) {
    this.#stream = stream;
    this.device = options.device ?? 'unknown';
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#retries = options.retries ?? 4;
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    const gone = (why: string) => () => this.#disconnected(why);
    stream.on('close', gone('the link closed'));
    stream.on('end', gone('the link ended'));
    stream.on('error', (e: Error) => this.#disconnected(`link error: ${e.message}`));
  }

  /**
   * Version handshake: offers LINK_VERSIONS, returns the device's hello (id, serial, model, fuses).
   * Throws ERR_LINK_VERSION and every request error.
   */
  async hello(): Promise<Record<string, unknown>> {
    const r = await this.request('hello', { versions: [...LINK_VERSIONS] }, 'handshake');
    if (!(LINK_VERSIONS as readonly unknown[]).includes(r.version)) {
      throw new LinkError(
        'ERR_LINK_VERSION',
        this.#place('handshake'),
        'the device chose an unsupported link version',
      );
    }
    if (typeof r.serial === 'string') this.device = r.serial;
    return r;
  }

  /**
   * Sends one request and waits for its response, retrying on timeout.
   * Throws LinkError: ERR_LINK_TIMEOUT, ERR_LINK_GARBAGE, ERR_LINK_DISCONNECTED, ERR_LINK_TOO_LARGE,
   * or the device's own error code.
   */
  request(method: string, params: Record<string, unknown>, step = method): Promise<Record<string, unknown>> {
    const run = this.#queue.then(() => this.#send(method, params, step));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the underlying stream. */
  close(): void {
    this.#gone ??= 'the link was closed by the station';
    this.#stream.destroy();
  }

  async #send(
    method: string,
    params: Record<string, unknown>,
    step: string,
  ): Promise<Record<string, unknown>> {
    if (this.#gone !== undefined) throw new LinkError('ERR_LINK_DISCONNECTED', this.#place(step), this.#gone);
    this.#seq = (this.#seq + 1) >>> 0;
    const frame = encodeFrame({
      kind: FRAME_KIND.request,
      seq: this.#seq,
      payload: encodeRequest({ m: method, p: params }),
    });
    if (frame.length > MAX_FRAME)
      throw new LinkError('ERR_LINK_TOO_LARGE', this.#place(step), 'request exceeds the frame limit', {
        status: 400,
      });
    return new Promise((resolve, reject) => {
      const p: Pending = { seq: this.#seq, step, bad: 0, resolve, reject };
      this.#pending = p;
      let attempt = 0;
      let timer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        if (this.#pending === p) this.#pending = undefined;
        fn();
      };
      p.resolve = (r) => settle(() => resolve(r));
      p.reject = (e) => settle(() => reject(e));
      const fire = () => {
        if (this.#pending !== p) return;
        if (attempt > this.#retries) {
          const code = p.bad > 0 ? 'ERR_LINK_GARBAGE' : 'ERR_LINK_TIMEOUT';
          const why =
            p.bad > 0
              ? `no valid response (${p.bad} corrupt frames)`
              : `no response after ${attempt} attempts`;
          p.reject(new LinkError(code, this.#place(step), why, { status: 504 }));
          return;
        }
        attempt++;
        this.bytesOut += frame.length;
        this.#stream.write(frame);
        timer = setTimeout(fire, this.#timeoutMs);
      };
      fire();
    });
  }

  #onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    for (const f of this.#decoder.push(chunk)) {
      const p = this.#pending;
      if (p === undefined) continue;
      if ('fault' in f) {
        p.bad++;
        continue;
      }
      if (f.kind !== FRAME_KIND.response || f.seq !== p.seq) continue;
      const res = decodeResponse(f.payload);
      if (res === undefined) {
        p.reject(
          new LinkError(
            'ERR_LINK_BAD_MESSAGE',
            this.#place(p.step),
            'the device sent an undecodable response',
          ),
        );
      } else if (res.ok) {
        p.resolve(res.r);
      } else {
        p.reject(new LinkError(res.code, this.#place(p.step), res.message, { status: 502 }));
      }
    }
  }

  #disconnected(why: string): void {
    this.#gone ??= why;
    const p = this.#pending;
    if (p !== undefined)
      p.reject(new LinkError('ERR_LINK_DISCONNECTED', this.#place(p.step), why, { status: 502 }));
  }

  #place(step: string): { device: string; step: string } {
    return { device: this.device, step };
  }
}
