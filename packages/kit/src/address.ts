import { isIP, isIPv4, isIPv6 } from "node:net";
import ipaddr from "ipaddr.js";

type Ip = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * The reverse proxies of our own (TRUST_PROXY): CIDRs such as `10.0.0.0/8,127.0.0.1/32`. Only a request that
 * reaches us from one of them has its X-Forwarded-For read, and only as far as they wrote it.
 */
export class TrustedProxies {
  static readonly none = new TrustedProxies([]);
  private readonly ranges: [Ip, number][];

  /** Throws, naming the entry, on anything but CIDRs or plain addresses (one host). */
  constructor(cidrs: readonly string[]) {
    this.ranges = cidrs.map((cidr) => {
      const trimmed = cidr.trim();
      if (ipaddr.isValidCIDR(trimmed)) return ipaddr.parseCIDR(trimmed);
      if (isIP(trimmed)) {
        const ip = ipaddr.parse(trimmed);
        return [ip, ip.kind() === "ipv4" ? 32 : 128];
      }
      throw new Error(`"${trimmed}" is not a CIDR (e.g. 10.0.0.0/8) or an address`);
    });
  }

  get any(): boolean {
    return this.ranges.length > 0;
  }

  /** Is `address` (as the socket or a proxy wrote it) one of our proxies? */
  has(address: string): boolean {
    const ip = parseStrict(address);
    if (!ip) return false;
    return this.ranges.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));
  }
}

/** An address as a socket or X-Forwarded-For writes it (brackets, zone, IPv4-mapped), or null. */
function parseStrict(raw: string): Ip | null {
  const address = raw
    .trim()
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "");
  return isIP(address) ? ipaddr.process(address) : null;
}

/**
 * The address a public caller's quotas and open-mode sessions are keyed by.
 *
 * X-Forwarded-For is read only when the peer is one of `trusted` (TRUST_PROXY): anyone can write that
 * header, so trusting it unasked would let a client pick a fresh address, and fresh quotas, per request.
 * Then the client is the right-most address in it that is not a proxy of ours: each of our proxies appends
 * the address it saw, and everything left of the first stranger is the stranger's own writing.
 *
 * IPv6 clients are keyed by their /64: one subscriber usually holds a whole /64 and could otherwise rotate
 * through 2^64 addresses. IPv4-mapped IPv6 addresses are written as IPv4.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | null,
  trusted: TrustedProxies,
): string {
  let address = peer ?? "unknown";
  if (trusted.any && forwardedFor && trusted.has(address)) {
    const hops = forwardedFor
      .split(",")
      .map((h) => h.trim())
      .filter((h) => h.length > 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      address = hops[i] as string;
      if (!trusted.has(address)) break;
    }
  }
  return normalizeAddress(address);
}

export function normalizeAddress(raw: string): string {
  // Anything longer than an address (a forwarded header's hop is the caller's text) is parsed, not kept.
  if (raw.length > MEMO_KEY_LENGTH) return normalize(raw);
  let normal = normalized.get(raw);
  if (normal === undefined) {
    normal = normalize(raw);
    // Bounded: a caller with many addresses empties it, and pays only the parsing it saved the others.
    if (normalized.size >= MEMO_SIZE) normalized.clear();
    normalized.set(raw, normal);
  }
  return normal;
}

/** Addresses already normalized: a busy client sends every request from the same one. */
const normalized = new Map<string, string>();
const MEMO_SIZE = 4096;
/** The longest IPv6 text with an embedded IPv4 tail and brackets is 47 characters; a zone adds a little. */
const MEMO_KEY_LENGTH = 64;

function normalize(raw: string): string {
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
