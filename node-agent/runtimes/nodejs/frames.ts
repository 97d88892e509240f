/**
 * The built-in Node.js runtime's fast channel to its agent: after an HTTP Upgrade on the Runtime
 * API, both sides exchange length-prefixed frames on the same socket instead of one HTTP request
 * per step. Each frame is `[u32 length of the rest][u8 type][u32 header length][header JSON][body]`.
 * Node builtins only: this file runs inside the sandbox too.
 */

/** Path and Upgrade token the runtime asks for; an agent that does not know them answers 404. */
export const CHANNEL_PATH = '/2018-06-01/runtime/stratus/channel';
export const CHANNEL_PROTOCOL = 'stratus-frames';

/**
 * The environment variable naming an abstract Unix socket (`@name`) on which the agent also serves
 * the Runtime API; the runtime opens its channel there (cheaper than loopback TCP) and removes the
 * variable before user code loads. Absent: the channel goes over AWS_LAMBDA_RUNTIME_API.
 */
export const RUNTIME_CHANNEL_VARIABLE = 'STRATUS_RUNTIME_CHANNEL';

/**
 * Frame types. Runtime → agent: NEXT, RESPONSE, ERROR, RESPONSE_NEXT, ERROR_NEXT. Agent → runtime:
 * EVENT, REPLY.
 *
 * RESPONSE_NEXT and ERROR_NEXT are a RESPONSE or ERROR followed by a NEXT, in one frame and with
 * one difference: the agent answers them with a REPLY only when it refuses the post (as HTTP's
 * 4xx would); an accepted one is answered by the next EVENT alone. That halves the frames per
 * invocation (EVENT, RESPONSE_NEXT instead of EVENT, RESPONSE, REPLY, NEXT). The flag is in the
 * type, not the header, because an oversize frame is refused without its header being read.
 */
export const FrameType = {
  /** The runtime wants its next event (GET /invocation/next). */
  next: 1,
  /** An event; header: the headers `/invocation/next` would carry; body: the payload. */
  event: 2,
  /** A result; header: `{ requestId }`; body: the JSON the runtime would POST. */
  response: 3,
  /** An invocation error; header: `{ requestId, errorType }`; body: the error JSON. */
  error: 4,
  /** The agent's answer to a RESPONSE or ERROR; header: `{ status, body }` as HTTP would have said. */
  reply: 5,
  /** RESPONSE, then NEXT; REPLY only on refusal. */
  responseNext: 6,
  /** ERROR, then NEXT; REPLY only on refusal. */
  errorNext: 7,
} as const;

/** A frame type number. */
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** One decoded frame. */
export interface Frame {
  type: number;
  header: Record<string, unknown>;
  body: Buffer;
}

const PREFIX_BYTES = 9;

/** Encodes one frame. */
export function encodeFrame(type: FrameTypeCode, header: Record<string, unknown>, body: Buffer = Buffer.alloc(0)): Buffer {
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.allocUnsafe(PREFIX_BYTES + headerBytes.length + body.length);
  out.writeUInt32BE(5 + headerBytes.length + body.length, 0);
  out.writeUInt8(type, 4);
  out.writeUInt32BE(headerBytes.length, 5);
  headerBytes.copy(out, PREFIX_BYTES);
  body.copy(out, PREFIX_BYTES + headerBytes.length);
  return out;
}

/**
 * Splits a byte stream into frames. A frame longer than `maxFrameBytes` is not buffered: its
 * bytes are skipped and `onOversize` gets its type, so the receiver can refuse it as HTTP would.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private skipping = 0;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onFrame: (frame: Frame) => void,
    private readonly onOversize: (type: number) => void,
  ) {}

  /** Feeds bytes; throws on a malformed frame (the peer is then not speaking this protocol). */
  push(chunk: Buffer): void {
    if (this.skipping > 0) {
      const skip = Math.min(this.skipping, chunk.length);
      this.skipping -= skip;
      chunk = chunk.subarray(skip);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drain();
  }

  private drain(): void {
    while (this.buffered >= PREFIX_BYTES) {
      const head = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : this.flatten();
      const length = head.readUInt32BE(0);
      const type = head.readUInt8(4);
      const headerLength = head.readUInt32BE(5);
      if (length < 5 || headerLength > length - 5) throw new Error(`malformed frame (length ${length}, header ${headerLength})`);
      if (length + 4 > this.maxFrameBytes) {
        const total = length + 4;
        const now = Math.min(this.buffered, total);
        this.consume(now);
        this.skipping = total - now;
        this.onOversize(type);
        continue;
      }
      if (this.buffered < length + 4) return;
      const all = this.flatten();
      const header = JSON.parse(all.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerLength)) as Record<string, unknown>;
      const body = Buffer.from(all.subarray(PREFIX_BYTES + headerLength, length + 4));
      this.consume(length + 4);
      this.onFrame({ type, header, body });
    }
  }

  /** Drops the first `n` buffered bytes. */
  private consume(n: number): void {
    const rest = this.flatten().subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
  }

  private flatten(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] as Buffer;
  }
}
