import { StratusError } from './errors';

// fatal: bytes that are not UTF-8 are refused too; a lenient decode would turn them into U+FFFD
// inside a string and hand the function text the caller never sent.
const utf8 = new TextDecoder('utf-8', { fatal: true });

const BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * Refuses an invocation payload that is not a JSON document, as Lambda does
 * (InvalidRequestContentException): the function would otherwise fail on it, or worse, run on a
 * guess. An empty payload is no payload and passes, as on Lambda.
 */
export function requireJsonPayload(payload: Uint8Array, what: 'payload' | 'event'): void {
  if (payload.length === 0) return;
  // TextDecoder drops a leading byte order mark, so without this check one would pass; but the
  // function gets the bytes as sent and the Node.js runtime's JSON.parse fails on it (RFC 8259 says
  // senders must not add one). Editors' "UTF-8 with BOM" writes it: name it, so the fix is obvious.
  if (payload[0] === BOM[0] && payload[1] === BOM[1] && payload[2] === BOM[2]) {
    throw new StratusError('InvalidRequestContent', `the ${what} starts with a UTF-8 byte order mark (EF BB BF), which JSON sent to a function must not: send it as UTF-8 without a BOM`);
  }
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch (cause) {
    throw new StratusError('InvalidRequestContent', `the ${what} is not valid UTF-8, so not JSON: send a JSON document encoded as UTF-8 (binary data base64-encoded inside it)`, { cause });
  }
  try {
    JSON.parse(text);
  } catch (cause) {
    throw new StratusError('InvalidRequestContent', `the ${what} is not valid JSON (${(cause as Error).message}): send a JSON document such as {"key":"value"} or "text", or no ${what} at all`, { cause });
  }
}
