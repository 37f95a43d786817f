/**
 * Sites of one process share links (link-sites.ts): a call on a link to one site, naming another of the
 * same process and token, runs there; one naming a site the process does not host is refused unrun, and
 * the client then calls that site on its own link.
 */
import { describe, expect, setSystemTime, test } from "bun:test";
import { errorDataOf, reasons } from "@evgrid/contract";
import { initTRPC } from "@trpc/server";
import { classifyCallFailure } from "../src/call-failure.ts";
import { closeLink, internalClient, type LinkRoute, linkOf } from "../src/internal-client.ts";
import type { Link } from "../src/link-client.ts";
import { notHosted } from "../src/link-failures.ts";
import { linkServer } from "../src/link-server.ts";
import { linkGroupOf } from "../src/link-sites.ts";
import type { LinkData } from "../src/server-types.ts";

const TOKEN = "link-sites-token-of-at-least-32-characters";

/** A `hold` call's gate: `started` once it runs, and it runs until `release` does. */
interface Gate {
  started: PromiseWithResolvers<void>;
  release: Promise<void>;
}
const gateOf = (release: Promise<void>): Gate => ({ started: Promise.withResolvers<void>(), release });

/** `hold` runs until the test lets it go. */
function siteRouter(name: string, gate: Gate = gateOf(Promise.resolve())) {
  const t = initTRPC.context<{ deadlineAtMs: number | null }>().create();
  return t.router({
    whoami: t.procedure.query(() => name),
    /** The deadline the call arrived with (epoch ms). */
    deadline: t.procedure.mutation(({ ctx }) => {
      gate.started.resolve();
      return ctx.deadlineAtMs;
    }),
    hold: t.procedure.mutation(async () => {
      gate.started.resolve();
      await gate.release;
      return name;
    }),
  });
}

/** A site's server on 127.0.0.1:0, hosted in its token's group; counts the links opened to it. */
function site(name: string, token = TOKEN, gate?: Gate) {
  const links = linkServer({
    router: siteRouter(name, gate),
    authorize: (authorization) => authorization === `Bearer ${token}`,
    createContext: (_trace, deadlineAtMs) => ({ deadlineAtMs }),
  });
  let upgrades = 0;
  const server = Bun.serve<LinkData>({
    hostname: "127.0.0.1",
    port: 0,
    websocket: links.websocket,
    fetch: (req, srv) => {
      upgrades += 1;
      return links.upgrade(req, srv);
    },
  });
  const hosted = links.host(linkGroupOf(token), name);
  return {
    url: `http://127.0.0.1:${server.port}`,
    hosted,
    links,
    get upgrades() {
      return upgrades;
    },
    async [Symbol.asyncDispose]() {
      await links.drain(0);
      await server.stop(true);
    },
  };
}

type SiteRouter = ReturnType<typeof siteRouter>;
const client = (url: string, route?: () => LinkRoute | undefined, token = TOKEN) =>
  internalClient<SiteRouter>(url, { transport: "ws", timeoutMs: 5000, token, route });

describe("sites of one process share links", () => {
  test("a call naming another site runs there, on the link already open to the first", async () => {
    await using a = site("a");
    await using b = site("b");
    expect([a.hosted, b.hosted]).toEqual([true, true]);
    const toA = client(a.url);
    let missed = 0;
    const toB = client(b.url, () => ({ link: toA[linkOf] as Link, site: "b", missed: () => missed++ }));
    try {
      expect(await toA.whoami.query()).toBe("a");
      expect(await Promise.all([toB.whoami.query(), toB.whoami.query()])).toEqual(["b", "b"]);
      expect({ a: a.upgrades, b: b.upgrades, missed }).toEqual({ a: 1, b: 0, missed: 0 });
    } finally {
      toA[closeLink]();
      toB[closeLink]();
    }
  });

  test("a site name taken in its group is not hosted twice: the first keeps it", async () => {
    await using first = site("same");
    await using second = site("same");
    expect([first.hosted, second.hosted]).toEqual([true, false]);
  });

  const OTHER_TOKEN = "another-token-of-at-least-32-characters!!";
  const misses: [why: string, name: string, token: string, setUp: (b: ReturnType<typeof site>) => unknown][] =
    [
      ["the site stopped (left its group)", "b", TOKEN, (b) => b.links.drain(0)],
      ["no such site in the process", "nowhere", TOKEN, () => {}],
      ["a site of the same process under another service token", "b", OTHER_TOKEN, () => {}],
    ];
  for (const [why, name, token, setUp] of misses) {
    test(`${why}: refused unrun, the route told, and the call made on the site's own link`, async () => {
      await using a = site("a");
      await using b = site("b", token);
      await setUp(b);
      const toA = client(a.url);
      let missed = 0;
      const route = () => ({ link: toA[linkOf] as Link, site: name, missed: () => missed++ });
      const toB = client(b.url, route, token);
      try {
        expect(await toB.whoami.query()).toBe("b");
        expect({ b: b.upgrades, missed }).toEqual({ b: 1, missed: 1 });
      } finally {
        toA[closeLink]();
        toB[closeLink]();
      }
    });
  }

  // A route that answers "not hosted" once `tookMs` of the call's time has gone (the clock moved on meanwhile).
  const missingAfter = (tookMs: number): LinkRoute => ({
    link: {
      call: async () => {
        setSystemTime(new Date(Date.now() + tookMs));
        throw notHosted(null);
      },
    } as unknown as Link,
    site: "b",
  });
  test("after a miss the call goes direct with what is left of its deadline, not a new one", async () => {
    await using b = site("b");
    const toB = client(b.url, () => missingAfter(3000)); // of its 5 s
    const deadlineAtMs = Date.now() + 5000;
    try {
      const arrivedWith = await toB.deadline.mutate(undefined, { context: { deadlineAtMs } });
      // The site's deadline is the caller's (the clock stood still from the miss on), not 3 s past it.
      expect(arrivedWith).toBe(deadlineAtMs);
    } finally {
      setSystemTime();
      toB[closeLink]();
    }
  });

  test("a deadline that passed while the route answered: the call is not sent, and says so", async () => {
    await using b = site("b");
    const toB = client(b.url, () => missingAfter(6000));
    try {
      const err = await toB.deadline.mutate().catch((e: unknown) => e);
      // Certainly not run, for the reason a caller acts on.
      expect(errorDataOf(err)?.reason).toBe(reasons.DEADLINE_EXCEEDED);
      expect(classifyCallFailure(err)).toBe("answered");
      // Not sent: the site's own link was never even opened.
      expect(b.upgrades).toBe(0);
    } finally {
      setSystemTime();
      toB[closeLink]();
    }
  });

  test("a site's drain waits for its calls running on another site's link", async () => {
    const release = Promise.withResolvers<void>();
    const gate = gateOf(release.promise);
    await using a = site("a");
    await using b = site("b", TOKEN, gate);
    const toA = client(a.url);
    const toB = client(b.url, () => ({ link: toA[linkOf] as Link, site: "b" }));
    try {
      const events: string[] = [];
      const held = toB.hold.mutate();
      await gate.started.promise; // it runs on b
      const drained = b.links.drain(10_000).then(() => events.push("drained"));
      // A round trip on the same link: the drain has had every chance to end, had it not waited.
      expect(await toA.whoami.query()).toBe("a");
      events.push("released");
      release.resolve();
      expect(await held).toBe("b");
      await drained;
      expect(events).toEqual(["released", "drained"]);
    } finally {
      toA[closeLink]();
      toB[closeLink]();
    }
  });

  test("closeWhenIdle: the calls out on the link are answered, then it closes", async () => {
    const release = Promise.withResolvers<void>();
    const gate = gateOf(release.promise);
    await using a = site("a", TOKEN, gate);
    const toA = client(a.url);
    const link = toA[linkOf] as Link;
    const held = toA.hold.mutate();
    await gate.started.promise; // it runs on a
    link.closeWhenIdle();
    // New calls fail at once, unsent; the one out on it is answered.
    expect(String(await toA.whoami.query().catch((err: unknown) => err))).toContain("link closed");
    release.resolve();
    expect(await held).toBe("a");
  });
});
