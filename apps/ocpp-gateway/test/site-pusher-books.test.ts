/**
 * The pusher's books over random histories: each site's running sum (Site.heldW, kept as connectors change)
 * always equals a recount of its slots, each charger counted at most at its charge point's maximum; with
 * chargers re-registered with another maximum or at another substation, answers of every kind (some after
 * their transaction ended), reconnects, drops and chargers caught ignoring their limits. fast-check prints
 * the seed of a failing history.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { TimeoutError } from "ocpp-rpc";
import type { Site } from "../src/push-transport.ts";
import { SitePusher } from "../src/site-pusher.ts";
import { heldW } from "../src/site-sums.ts";
import { open, scripted } from "./scripted-transport.ts";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const cp = fc.constantFrom("A", "B");
const connectorId = fc.constantFrom(1, 2);
const site = fc.constantFrom("s1", "s2");
const maxW = fc.constantFrom(11_000, 22_000);
const op = fc.oneof(
  fc.record({ k: fc.constant("online" as const), cp, site }),
  fc.record({ k: fc.constant("offline" as const), cp }),
  fc.record({ k: fc.constant("open" as const), cp, connectorId, site, maxW }),
  fc.record({
    k: fc.constant("want" as const),
    cp,
    connectorId,
    site,
    maxW,
    watts: fc.constantFrom(0, 5_000, 11_000, 22_000),
    newTx: fc.boolean(),
  }),
  fc.record({ k: fc.constant("forget" as const), cp, connectorId }),
  fc.record({ k: fc.constant("drop" as const), cp }),
  fc.record({ k: fc.constant("ignores" as const), cp }),
  fc.record({
    k: fc.constant("answer" as const),
    nth: fc.nat(),
    how: fc.constantFrom("Accepted", "Rejected", "timeout", "lost", "NotImplemented"),
  }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

async function replay(ops: Op[]): Promise<void> {
  const { calls, transport } = scripted();
  const p = new SitePusher(transport, { backoffMs: 0, backoffMaxMs: 0, defaultW: 0 });
  const sites = (p as unknown as { sites: Map<string, Site> }).sites;
  for (const id of ["s1", "s2"]) p.setBudget(id, 30);
  let txs = 0;
  const txOf = new Map<string, string>();
  const target = (o: { cp: string; connectorId: number; site: string; maxW: number }, tx: string) => ({
    chargePointId: o.cp,
    substationId: o.site,
    connectorId: o.connectorId,
    transactionId: tx,
    maxW: o.maxW,
  });
  for (const o of ops) {
    if (o.k === "online") void p.online(o.cp, o.site);
    else if (o.k === "offline") p.offline(o.cp);
    else if (o.k === "open") {
      const tx = `t${++txs}`;
      txOf.set(`${o.cp}${o.connectorId}`, tx);
      p.opened(target(o, tx));
    } else if (o.k === "want") {
      const known = txOf.get(`${o.cp}${o.connectorId}`);
      const tx = known === undefined || o.newTx ? `t${++txs}` : known;
      txOf.set(`${o.cp}${o.connectorId}`, tx);
      p.want(target(o, tx), o.watts, 0);
    } else if (o.k === "forget") p.forget(o.cp, o.connectorId);
    else if (o.k === "drop") p.drop(o.cp);
    else if (o.k === "ignores") p.ignoresLimits(o.cp);
    else {
      const waiting = open(calls);
      const call = waiting[o.nth % Math.max(1, waiting.length)];
      if (call) {
        (call as { done?: boolean }).done = true;
        if (o.how === "timeout") call.fail(new TimeoutError("no answer"));
        else if (o.how === "lost") call.fail(new Error("connection lost"));
        else if (o.how === "NotImplemented")
          call.fail(Object.assign(new Error("no"), { rpcErrorCode: o.how }));
        else call.answer(o.how);
      }
    }
    await turn();
    for (const [id, s] of sites) expect({ id, heldW: s.heldW }).toEqual({ id, heldW: heldW(s) });
  }
  p.close();
}

test("each site's running sum equals a recount after every step of a random history", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), (ops) => replay(ops)),
    { numRuns: 300 },
  );
}, 60_000);
