import type { Duplex } from 'node:stream';
import { randomInt } from 'node:crypto';
import { encodeCbor } from './cbor-encode.ts';
import { FRAME_KIND, FrameDecoder, MAX_FRAME, encodeFrame } from './frame.ts';
import { LinkError } from './errors.ts';
import { MAX_BATCH, decodeResponse, encodeRequest, isRecord } from './messages.ts';

/** Link versions this side speaks, newest first (2 adds `batch`: several calls in one frame). */
export const LINK_VERSIONS = [2, 1] as const;

/** One call of a batch: method, parameters, and the provisioning step it belongs to (for errors). */
export interface LinkCall {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly step: string;
}

// A batch request is `{m: "batch", p: {calls: [ … ]}}`: this prefix, then the array head and the calls.
const BATCH_PREFIX = encodeCbor({ m: 'batch', p: { calls: [] } }).slice(0, -1);
// Room for the frame header, CRC, COBS overhead and the array head inside MAX_FRAME.
const BATCH_BUDGET = MAX_FRAME - 64 - Math.ceil(MAX_FRAME / 254);

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
  /** The link version the device chose in hello (1 until then). */
  version = 1;
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
    this.version = r.version as number;
    return r;
  }

  /**
   * Sends one request and waits for its response, retrying on timeout.
   * Throws LinkError: ERR_LINK_TIMEOUT, ERR_LINK_GARBAGE, ERR_LINK_DISCONNECTED, ERR_LINK_TOO_LARGE,
   * or the device's own error code.
   */
  request(method: string, params: Record<string, unknown>, step = method): Promise<Record<string, unknown>> {
    return this.#enqueue(() => this.#send(encodeRequest({ m: method, p: params }), step));
  }

  /**
   * Runs `calls` in order and returns their results; the first failing call stops the rest and is
   * thrown as a LinkError naming its own step. On link v2 the calls travel packed into as few frames
   * as fit (a device answers a frame's calls together); on v1 they are sent one by one.
   * Throws what request throws, and ERR_LINK_BAD_MESSAGE for a batch reply that does not match.
   */
  async batch(calls: readonly LinkCall[]): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    if (this.version < 2) {
      for (const c of calls) out.push(await this.request(c.method, c.params, c.step));
      return out;
    }
    for (const group of pack(calls)) {
      // Until the reply arrives the station cannot tell which of the frame's calls ran, so a link
      // failure names the span of steps in flight (a device-reported failure names its own step).
      const span = stepSpan(group.map((g) => g.call.step));
      const r = await this.#enqueue(() => this.#send(batchPayload(group.map((g) => g.bytes)), span));
      out.push(
        ...this.#batchResults(
          r,
          group.map((g) => g.call),
        ),
      );
    }
    return out;
  }

  #batchResults(r: Record<string, unknown>, calls: readonly LinkCall[]): Record<string, unknown>[] {
    const results = r.results;
    const failed = r.failed;
    const bad = () =>
      new LinkError(
        'ERR_LINK_BAD_MESSAGE',
        this.#place(calls[0]!.step),
        'the device sent a malformed batch reply',
      );
    if (!Array.isArray(results) || !results.every(isRecord)) throw bad();
    if (failed === undefined) {
      if (results.length !== calls.length) throw bad();
      return results;
    }
    if (
      !isRecord(failed) ||
      failed.at !== results.length ||
      results.length >= calls.length ||
      typeof failed.code !== 'string' ||
      typeof failed.message !== 'string'
    )
      throw bad();
    throw new LinkError(failed.code, this.#place(calls[results.length]!.step), failed.message, {
      status: 502,
    });
  }

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the underlying stream. */
  close(): void {
    this.#gone ??= 'the link was closed by the station';
    this.#stream.destroy();
  }

  async #send(payload: Uint8Array, step: string): Promise<Record<string, unknown>> {
    if (this.#gone !== undefined) throw new LinkError('ERR_LINK_DISCONNECTED', this.#place(step), this.#gone);
    this.#seq = (this.#seq + 1) >>> 0;
    const frame = encodeFrame({ kind: FRAME_KIND.request, seq: this.#seq, payload });
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

/** Calls packed greedily, in order, into groups that fit one frame (a call too large alone goes alone and is refused by #send). */
function pack(calls: readonly LinkCall[]): { call: LinkCall; bytes: Uint8Array }[][] {
  const groups: { call: LinkCall; bytes: Uint8Array }[][] = [];
  let cur: { call: LinkCall; bytes: Uint8Array }[] = [];
  let size = BATCH_PREFIX.length;
  for (const call of calls) {
    const bytes = encodeRequest({ m: call.method, p: call.params });
    if (cur.length > 0 && (size + bytes.length > BATCH_BUDGET || cur.length === MAX_BATCH)) {
      groups.push(cur);
      cur = [];
      size = BATCH_PREFIX.length;
    }
    cur.push({ call, bytes });
    size += bytes.length;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

/** The CBOR of a batch request from its calls' encoded bytes (no second encoding of large parameters). */
function batchPayload(calls: readonly Uint8Array[]): Uint8Array {
  const n = calls.length;
  const head = n < 24 ? Uint8Array.of(0x80 | n) : Uint8Array.of(0x98, n);
  const out = new Uint8Array(BATCH_PREFIX.length + head.length + calls.reduce((a, c) => a + c.length, 0));
  out.set(BATCH_PREFIX);
  out.set(head, BATCH_PREFIX.length);
  let off = BATCH_PREFIX.length + head.length;
  for (const c of calls) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** One step, or `first..last` for calls of several steps. */
function stepSpan(steps: readonly string[]): string {
  const first = steps[0] ?? 'batch';
  const last = steps[steps.length - 1] ?? first;
  return steps.every((x) => x === first) ? first : `${first}..${last}`;
}
