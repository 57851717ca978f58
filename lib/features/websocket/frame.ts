/**
 * WebSocket framing (RFC 6455 §5) for the edge's side of an origin connection: pure encoders and
 * a header parser. The edge is the origin's client, so what it sends is masked and what it reads
 * must not be; no extension is negotiated, so every RSV bit must be zero.
 */

/** Frame opcodes (RFC 6455 §5.2). */
export const OP = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** Close codes the edge uses itself (RFC 6455 §7.4.1). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  /** Received in a close frame without a status code; never sent. */
  noStatus: 1005,
  /** The connection dropped without a close frame; never sent. */
  abnormal: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
} as const;

/** Largest payload of a control frame (close, ping, pong). */
const MAX_CONTROL_PAYLOAD = 125;
/** Longest close reason in UTF-8 bytes (a control payload less the two code bytes). */
const MAX_CLOSE_REASON_BYTES = 123;

/** A frame's header as read from the wire. */
export interface FrameHeader {
  fin: boolean;
  /** The three RSV bits (must be 0 without extensions). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Payload length in bytes. */
  length: number;
  /** Bytes of the header, mask included. */
  headerLength: number;
}

/** A violation of the protocol by the peer; `code` is the close code it calls for. */
export class FrameError extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

/**
 * Parses the header at the start of `bytes`; null when more bytes are needed. Throws
 * {@linkcode FrameError} for a header no valid peer sends (reserved opcode, fragmented or
 * oversized control frame, a 64-bit length with its top bit set).
 */
export function parseFrameHeader(bytes: Uint8Array): FrameHeader | null {
  if (bytes.length < 2) return null;
  const b0 = bytes[0];
  const b1 = bytes[1];
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let headerLength = 2;
  if (length === 126) headerLength += 2;
  else if (length === 127) headerLength += 8;
  if (masked) headerLength += 4;
  if (bytes.length < headerLength) return null;
  if (length === 126) {
    length = (bytes[2] << 8) | bytes[3];
  } else if (length === 127) {
    const high = (bytes[2] << 24 | bytes[3] << 16 | bytes[4] << 8 | bytes[5]) >>> 0;
    const low = (bytes[6] << 24 | bytes[7] << 16 | bytes[8] << 8 | bytes[9]) >>> 0;
    if (high >= 0x8000_0000) throw new FrameError(CLOSE.protocolError, "Invalid frame length");
    // Beyond 2^53 a length cannot be exact; no message limit allows anything near it.
    if (high >= 0x20_0000) throw new FrameError(CLOSE.messageTooBig, "Frame too large");
    length = high * 0x1_0000_0000 + low;
  }
  const isControl = opcode >= 0x8;
  if (!(opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa))) {
    throw new FrameError(CLOSE.protocolError, `Reserved opcode: ${opcode}`);
  }
  if (isControl && !fin) throw new FrameError(CLOSE.protocolError, "Fragmented control frame");
  if (isControl && length > MAX_CONTROL_PAYLOAD) {
    throw new FrameError(CLOSE.protocolError, "Control frame payload over 125 bytes");
  }
  return { fin, rsv: (b0 >> 4) & 0x7, opcode, masked, length, headerLength };
}

/** XORs `data` in place with the 4-byte `mask` (its own inverse). */
export function applyMask(data: Uint8Array, mask: Uint8Array): void {
  const n = data.length;
  let i = 0;
  // Whole words when the payload is 4-byte aligned (encodeFrame arranges it): ~8× faster.
  if (n >= 32 && data.byteOffset % 4 === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, n >>> 2);
    const m = new Uint32Array(mask.slice(0, 4).buffer)[0];
    for (let w = 0; w < words.length; w++) words[w] ^= m;
    i = words.length << 2;
  }
  for (; i < n; i++) data[i] ^= mask[i & 3];
}

/**
 * One complete frame (FIN set) with `payload`, masked with `mask` when given (a client's frames
 * must be). The payload is copied; the frame is one buffer, ready for one write.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  mask: Uint8Array | null,
): Uint8Array {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x1_0000 ? 2 : 8;
  const headerLength = 2 + lengthBytes + (mask ? 4 : 0);
  // Padding in front puts the payload on a 4-byte boundary, so masking can go word by word.
  const pad = (4 - headerLength % 4) % 4;
  const buffer = new Uint8Array(pad + headerLength + length);
  const frame = buffer.subarray(pad);
  frame[0] = 0x80 | opcode;
  frame[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) {
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else if (lengthBytes === 8) {
    const high = Math.floor(length / 0x1_0000_0000);
    const view = new DataView(buffer.buffer, pad + 2, 8);
    view.setUint32(0, high);
    view.setUint32(4, length >>> 0);
  }
  const body = frame.subarray(headerLength);
  body.set(payload);
  if (mask) {
    frame.set(mask, headerLength - 4);
    applyMask(body, mask);
  }
  return frame;
}

/** Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4, IANA registry). */
export function isSendableCloseCode(code: number): boolean {
  return Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999));
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A close frame's payload: nothing for `code` undefined (a close without status), else the code
 * and the reason cut to 123 UTF-8 bytes at a character boundary.
 */
export function closePayload(code: number | undefined, reason = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** `text` as UTF-8, at most `max` bytes, never splitting a character. */
export function truncateUtf8(text: string, max: number): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.slice(0, end);
}

/** A close frame's code and reason; `code` undefined when it carried none. */
export interface CloseInfo {
  code: number | undefined;
  reason: string;
}

/** Reads a close payload; throws {@linkcode FrameError} for a bad code or reason. */
export function parseClosePayload(payload: Uint8Array): CloseInfo {
  if (payload.length === 0) return { code: undefined, reason: "" };
  if (payload.length === 1) throw new FrameError(CLOSE.protocolError, "Close payload of 1 byte");
  const code = (payload[0] << 8) | payload[1];
  if (!isSendableCloseCode(code)) {
    throw new FrameError(CLOSE.protocolError, `Invalid close code: ${code}`);
  }
  let reason: string;
  try {
    reason = strictUtf8.decode(payload.subarray(2));
  } catch {
    throw new FrameError(CLOSE.invalidPayload, "Close reason is not UTF-8");
  }
  return { code, reason };
}
