import { describe, expect, test } from "bun:test";
import { frames } from "../src/link-wire.ts";

describe("frames: the messages of one turn, packed for the link", () => {
  test("one message goes alone; several go as one JSON array, in order", () => {
    expect(frames(['{"id":1}'], 100)).toEqual(['{"id":1}']);
    expect(frames(['{"id":1}', '{"id":2}'], 100)).toEqual(['[{"id":1},{"id":2}]']);
    expect(frames([], 100)).toEqual([]);
  });

  test("no frame is over the limit in UTF-8 bytes, and nothing is lost or reordered", () => {
    const messages = Array.from({ length: 500 }, (_, i) =>
      JSON.stringify({ id: i, params: { path: "x", input: { v: "é🚗".repeat(i % 37) } } }),
    );
    const out = frames(messages, 4096);
    expect(out.length).toBeGreaterThan(1);
    for (const f of out) expect(Buffer.byteLength(f)).toBeLessThanOrEqual(4096);
    const back = out.flatMap((f) => {
      const parsed = JSON.parse(f);
      return Array.isArray(parsed) ? parsed : [parsed];
    });
    expect(back.map((m) => m.id)).toEqual(messages.map((_, i) => i));
  });
});
