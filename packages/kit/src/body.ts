import { TRPCError } from "@trpc/server";

/**
 * Reads a request body as text, refusing it past `maxBytes` whether or not it declared a length: a chunked
 * body is read piece by piece and dropped as soon as it is too large, so it costs at most `maxBytes` of
 * memory and is answered with the same typed 413 as a declared one.
 */
export async function readBodyLimited(req: Request, maxBytes: number): Promise<string> {
  const declared = req.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > maxBytes) throw tooLarge(maxBytes);
    return req.text();
  }
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

function tooLarge(maxBytes: number): TRPCError {
  return new TRPCError({ code: "PAYLOAD_TOO_LARGE", message: `request body over ${maxBytes} bytes` });
}
