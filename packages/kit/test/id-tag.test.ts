import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { bookingIdTagSchema } from "@evgrid/contract";
import fc from "fast-check";
import { ID_TAG_LENGTH, idTagFor, sessionSecretFor, sessionSecretMatches } from "../src/token.ts";

/** RFC 4648 base32 of a buffer, the long way round (bit by bit), to check the encoder against. */
function base32Bits(buf: Buffer, chars: number): string {
  const bits = [...buf].map((b) => b.toString(2).padStart(8, "0")).join("");
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return Array.from(
    { length: chars },
    (_, i) => alphabet[Number.parseInt(bits.slice(i * 5, i * 5 + 5), 2)],
  ).join("");
}

describe("booking idTags", () => {
  test("20 characters of base32: an OCPP 1.6 CiString20, and what the contract accepts", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 16 }), fc.string(), (token, sessionId) => {
        const tag = idTagFor(token, sessionId);
        expect(tag).toHaveLength(ID_TAG_LENGTH);
        expect(bookingIdTagSchema.safeParse(tag).success).toBe(true);
        // The first 100 bits of an HMAC under the service token, nothing else.
        const mac = createHmac("sha256", token).update(`evgrid booking idTag v1:${sessionId}`).digest();
        expect(tag).toBe(base32Bits(mac, ID_TAG_LENGTH));
      }),
    );
  });

  test("another session or another service token gives another tag; the same gives the same", () => {
    const token = "a-service-token-of-16+";
    const a = idTagFor(token, "substation-1.00000000000000000000000000000001");
    expect(idTagFor(token, "substation-1.00000000000000000000000000000001")).toBe(a);
    expect(idTagFor(token, "substation-1.00000000000000000000000000000002")).not.toBe(a);
    expect(idTagFor(`${token}x`, "substation-1.00000000000000000000000000000001")).not.toBe(a);
  });
});

describe("session secrets", () => {
  test("the HMAC of the session id under the service token, in base64url, however often a token is used", () => {
    // A few tokens, each used many times (an app keys its HMAC once and copies it), and many used once.
    const tokens = fc.oneof(
      fc.constantFrom("token-one-of-16+", "token-two-of-16+", "x".repeat(200)),
      fc.string(),
    );
    fc.assert(
      fc.property(tokens, fc.string(), (token, sessionId) => {
        const want = createHmac("sha256", token)
          .update(`evgrid session secret v1:${sessionId}`)
          .digest("base64url");
        expect(sessionSecretFor(token, sessionId)).toBe(want);
        expect(sessionSecretMatches(token, sessionId, want)).toBe(true);
        expect(sessionSecretMatches(`${token}x`, sessionId, want)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
