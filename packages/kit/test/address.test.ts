import { describe, expect, test } from "bun:test";
import { clientAddress, normalizeAddress, TrustedProxies } from "../src/address.ts";
import { trustProxySchema } from "../src/env.ts";

const proxies = (...cidrs: string[]) => new TrustedProxies(cidrs);

describe("client address", () => {
  test("X-Forwarded-For is ignored unless proxies are trusted", () => {
    expect(clientAddress("10.0.0.9", "6.6.6.6", TrustedProxies.none)).toBe("10.0.0.9");
  });

  test("a peer that is not a trusted proxy is the client, whatever X-Forwarded-For says", () => {
    // NodePort with trust on: a client straight to the pod picked its own quota bucket per request.
    expect(clientAddress("203.0.113.7", "6.6.6.6", proxies("10.0.0.0/8"))).toBe("203.0.113.7");
  });

  test("through trusted proxies, the client is the right-most address that is not one of them", () => {
    const ours = proxies("10.0.0.0/8", "127.0.0.1/32");
    // A client forged the first entry; our proxy appended the address it really saw.
    expect(clientAddress("10.0.0.9", "6.6.6.6, 203.0.113.7", ours)).toBe("203.0.113.7");
    // Two hops of ours (10.x appended by the outer one): both skipped.
    expect(clientAddress("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.2", ours)).toBe("203.0.113.7");
    // Every entry is ours: the left-most is the best we know.
    expect(clientAddress("10.0.0.9", "10.1.1.1, 10.0.0.2", ours)).toBe("10.1.1.1");
    expect(clientAddress("10.0.0.9", null, ours)).toBe("10.0.0.9");
    // Garbage at the right-most untrusted place is one shared bucket, never skipped over.
    expect(clientAddress("10.0.0.9", "6.6.6.6, junk", ours)).toBe("invalid");
  });

  test("IPv6 ranges and IPv4-mapped peers match", () => {
    const ours = proxies("fd00::/8", "10.0.0.0/8");
    expect(clientAddress("fd00::5", "2001:db8:1:2::9", ours)).toBe("2001:db8:1:2::/64");
    expect(clientAddress("::ffff:10.0.0.9", "198.51.100.4", ours)).toBe("198.51.100.4");
    expect(clientAddress("[fd00::5]", "198.51.100.4, fd00::1", ours)).toBe("198.51.100.4");
  });

  test("TRUST_PROXY: CIDRs or addresses; unset or 0 trusts none; a count is refused with the new form", () => {
    expect(trustProxySchema.parse(undefined).any).toBe(false);
    expect(trustProxySchema.parse("0").any).toBe(false);
    const parsed = trustProxySchema.parse("10.0.0.0/8, 127.0.0.1");
    expect([parsed.has("10.9.9.9"), parsed.has("127.0.0.1"), parsed.has("127.0.0.2")]).toEqual([
      true,
      true,
      false,
    ]);
    for (const old of ["1", "2", "true"]) {
      const result = trustProxySchema.safeParse(old);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toContain("10.0.0.0/8,127.0.0.1/32");
    }
    expect(trustProxySchema.safeParse("10.0.0.0/33").error?.issues[0]?.message).toContain("10.0.0.0/33");
  });

  test("IPv6 callers share one quota per /64; IPv4-mapped addresses are IPv4", () => {
    expect(normalizeAddress("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(normalizeAddress("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(normalizeAddress("::1")).toBe("0:0:0:0::/64");
    expect(normalizeAddress("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(normalizeAddress("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(normalizeAddress("[2001:db8::7]")).toBe("2001:db8:0:0::/64");
  });

  test("something that is not an address is one shared bucket, never the text itself", () => {
    expect(normalizeAddress("<script>")).toBe("invalid");
    expect(normalizeAddress("a".repeat(500))).toBe("invalid");
  });

  test("an address asked again, after thousands of others, has the same answer (the memo empties when full)", () => {
    const cases: [string, string][] = [
      ["2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"],
      ["::ffff:192.0.2.1", "192.0.2.1"],
      ["203.0.113.9", "203.0.113.9"],
      ["<script>", "invalid"],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [raw, want] of cases) expect(normalizeAddress(raw)).toBe(want);
      for (let i = 0; i < 5000; i++) {
        expect(normalizeAddress(`10.${round}.${i >> 8}.${i & 255}`)).toBe(`10.${round}.${i >> 8}.${i & 255}`);
      }
    }
  });
});
