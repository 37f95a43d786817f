import type { Session } from "@evgrid/contract";

/** Raw HTTP as an attacker (or curl) sends it: no client library, every status and header visible. */

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies.
export type Json = any;

/** Every session any substation of a `bun run dev` grid holds, active or ended, as operators see them. */
export async function allSessions(dev: {
  urls: { substations: Record<string, string>; serviceToken: string };
}): Promise<Session[]> {
  const lists = await Promise.all(
    Object.values(dev.urls.substations).map(async (url) => {
      const res = await fetch(
        `${url}/trpc/listSessions?input=${encodeURIComponent(JSON.stringify({ status: "all", limit: 10_000 }))}`,
        { headers: { authorization: `Bearer ${dev.urls.serviceToken}` } },
      );
      return ((await res.json()) as Json).result.data.sessions as Session[];
    }),
  );
  return lists.flat();
}

/** What `f` answered and how long it took (ms). */
export const timed = async <T>(f: () => Promise<T>) => {
  const t0 = performance.now();
  const value = await f();
  return { value, ms: performance.now() - t0 };
};

export interface Answer {
  status: number;
  headers: Headers;
  json: Json;
}

export interface As {
  /** Open mode with TRUST_PROXY=127.0.0.1/32: the address our (loopback) proxy saw. */
  address?: string;
  /** An API key, or the service token. */
  bearer?: string;
}

const headersFor = (as: As, extra: Record<string, string> = {}) => ({
  ...(as.address ? { "x-forwarded-for": as.address } : {}),
  ...(as.bearer ? { authorization: `Bearer ${as.bearer}` } : {}),
  ...extra,
});

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  return { status: res.status, headers: res.headers, json };
}

export async function mutation(
  base: string,
  path: string,
  input: unknown,
  as: As = {},
  signal?: AbortSignal,
): Promise<Answer> {
  return answer(
    await fetch(`${base}/trpc/${path}`, {
      method: "POST",
      headers: headersFor(as, { "content-type": "application/json" }),
      body: JSON.stringify(input),
      signal,
    }),
  );
}

export async function query(base: string, path: string, input: unknown, as: As = {}): Promise<Answer> {
  const q = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return answer(await fetch(`${base}/trpc/${path}${q}`, { headers: headersFor(as) }));
}

/** The reason of a tRPC error answer. */
export const reasonOf = (a: Answer): string | undefined => a.json?.error?.data?.reason;
