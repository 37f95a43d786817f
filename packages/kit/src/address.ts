import { isIPv4, isIPv6 } from "node:net";

/**
 * The address a public caller's quotas and open-mode sessions are keyed by.
 *
 * `trustedProxies` is how many reverse proxies of our own stand in front of the app (TRUST_PROXY). With 0,
 * the default, X-Forwarded-For is ignored: anyone can write that header, so trusting it unasked would let a
 * client pick a fresh address, and fresh quotas, per request. With n, the client is the address our
 * outermost proxy saw: the n-th entry from the right of X-Forwarded-For.
 *
 * IPv6 clients are keyed by their /64: one subscriber usually holds a whole /64 and could otherwise rotate
 * through 2^64 addresses. IPv4-mapped IPv6 addresses are written as IPv4.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | null,
  trustedProxies: number,
): string {
  let address = peer ?? "unknown";
  if (trustedProxies > 0 && forwardedFor) {
    const hops = forwardedFor
      .split(",")
      .map((h) => h.trim())
      .filter((h) => h.length > 0);
    const picked = hops[Math.max(0, hops.length - trustedProxies)];
    if (picked !== undefined) address = picked;
  }
  return normalizeAddress(address);
}

export function normalizeAddress(raw: string): string {
  const address = raw.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(address)) return address;
  if (isIPv6(address)) return `${expandIPv6(address).slice(0, 4).join(":")}::/64`;
  // Not an address (a misconfigured proxy wrote something else): one shared bucket for all such callers.
  return "invalid";
}

/** The eight hextets of an IPv6 address, "::" expanded, leading zeros dropped. */
function expandIPv6(address: string): string[] {
  const [head = "", tail] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // An embedded IPv4 tail (::1.2.3.4) counts as two hextets.
  const last = right.length > 0 ? right : left;
  const v4 = last.at(-1)?.includes(".") ? last.pop() : undefined;
  if (v4) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.split(".").map(Number);
    last.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill("0"), ...right].map((h) =>
    Number.parseInt(h, 16).toString(16),
  );
}
