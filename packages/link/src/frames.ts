/**
 * The largest frame either end of a link takes by default (the apps' HTTP body limit); a bigger frame closes
 * the link (1009).
 */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

/** Serialized messages packed into frames of at most `maxBytes` (UTF-8): one alone, several as a JSON array. */
export function frames(messages: readonly string[], maxBytes: number): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let size = 2;
  const close = () => {
    if (batch.length === 1) out.push(batch[0] as string);
    else if (batch.length > 1) out.push(`[${batch.join(",")}]`);
    batch = [];
    size = 2;
  };
  for (const m of messages) {
    const bytes = Buffer.byteLength(m);
    if (batch.length > 0 && size + bytes + 1 > maxBytes) close();
    batch.push(m);
    size += bytes + 1;
  }
  close();
  return out;
}
