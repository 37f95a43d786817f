import { describe, expect, test } from "bun:test";
import { clientAddress, normalizeAddress } from "../src/address.ts";

describe("client address", () => {
  test("X-Forwarded-For is ignored unless proxies are trusted", () => {
    expect(clientAddress("10.0.0.9", "6.6.6.6", 0)).toBe("10.0.0.9");
  });

  test("with n trusted proxies the client is the n-th address from the right", () => {
    // A client forged the first entry; our one proxy appended the address it really saw.
    expect(clientAddress("10.0.0.9", "6.6.6.6, 203.0.113.7", 1)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.9", "6.6.6.6, 203.0.113.7, 10.0.0.2", 2)).toBe("203.0.113.7");
    // Fewer entries than proxies: the leftmost is the best we know.
    expect(clientAddress("10.0.0.9", "203.0.113.7", 3)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.9", null, 1)).toBe("10.0.0.9");
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
});
