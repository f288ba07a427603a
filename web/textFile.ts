import * as E from "fp-ts/lib/Either.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A dropped file as training text, or why it cannot be: binary content (a NUL byte), bytes that are not
 * UTF-8, or too little text to train on. CRLF becomes LF so line endings don't cost tokens.
 */
export function decodeTextFile(name: string, bytes: Uint8Array, minBytes: number): E.Either<string, string> {
  const nul = bytes.indexOf(0);
  if (nul >= 0) return E.left(`${name} looks binary (a NUL byte at offset ${nul}): drop a UTF-8 text file`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return E.left(`${name} is not UTF-8 text: drop a UTF-8 text file`);
  }
  text = text.replace(/\r\n/g, "\n");
  if (bytes.length < minBytes)
    return E.left(
      `${name} has ${bytes.length} bytes; the playground needs at least ${minBytes} to train and validate on`,
    );
  return E.right(text);
}
