/**
 * Sites one process hosts (SUBSTATION_SITES) take each other's calls on one link (@evgrid/link's
 * link-sites.ts): the balancer calls them all on the first one's link, each call naming its site. Each site
 * still admits exactly its own sessions, the group never reaches the public API, and when the site whose
 * link carried the others' calls stops, the others are called on a link of their own.
 */
import { describe, expect, test } from "bun:test";
import { eventually, startGrid } from "@evgrid/testing";

type Grid = Awaited<ReturnType<typeof startGrid>>;

/** Which site's link each member's calls go on (its own when not routed), by substation id. */
const linksOf = (grid: Grid): Record<string, string> =>
  Object.fromEntries(
    grid.balancer.view.members.map((m) => [m.id, m.route ? `via:${m.route.site}` : "own"] as const),
  );

async function charge(grid: Grid, prefix: string, n: number) {
  const grants = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      grid.client.requestCharge.mutate({ vehicleId: `${prefix}-${i}`, maxKw: 11, durationS: 600 }),
    ),
  );
  const bySite: Record<string, number> = {};
  for (const g of grants) bySite[g.substationId] = (bySite[g.substationId] ?? 0) + 1;
  return bySite;
}

describe("sites of one process share the balancer's link", () => {
  test("every site's calls go on one link; each site admits exactly what it was sent", async () => {
    await using grid = await startGrid({ capacitiesKw: [100, 100, 100], sharedLinks: true });
    await eventually(() =>
      expect(Object.values(linksOf(grid)).filter((l) => l.startsWith("via:")).length).toBe(2),
    );
    const bySite = await charge(grid, "ev", 24);
    expect(Object.keys(bySite).sort()).toEqual(["substation-1", "substation-2", "substation-3"]);
    for (const s of grid.substations) {
      expect(s.station.load().activeSessions).toBe(bySite[s.station.id] ?? -1);
    }
    // The group is the grid's business: not in what the public sees of the substations.
    const status = await grid.client.gridStatus.query();
    expect(JSON.stringify(status)).not.toContain("linkGroup");
    const listed = await grid.operator.listSubstations.query();
    expect(JSON.stringify(listed)).not.toContain("linkGroup");
  });

  test("the site whose link carried the others' stops: they are called on their own link, nothing lost", async () => {
    await using grid = await startGrid({ capacitiesKw: [100, 100, 100], sharedLinks: true });
    await eventually(() =>
      expect(Object.values(linksOf(grid)).filter((l) => l.startsWith("via:")).length).toBe(2),
    );
    const carrier = grid.balancer.view.members.find((m) => m.route === undefined);
    const carried = grid.substations.find((s) => s.station.id === carrier?.id);
    await carried?.stop();
    // The others leave the stopped site's link (a call on it fails), and one of theirs carries the other.
    await eventually(() => {
      const links = linksOf(grid);
      expect(links[carrier?.id as string]).toBe("own");
      const rest = Object.entries(links).filter(([id]) => id !== carrier?.id);
      expect(rest.map(([, l]) => l).sort()).toEqual(["own", expect.stringMatching(/^via:/)]);
      for (const m of grid.balancer.view.members.filter((x) => x.id !== carrier?.id))
        expect(m.healthy).toBe(true);
    });
    const bySite = await charge(grid, "after", 12);
    expect(bySite[carrier?.id as string]).toBeUndefined();
    expect(Object.values(bySite).reduce((a, b) => a + b, 0)).toBe(12);
    for (const s of grid.substations.filter((x) => x !== carried)) {
      expect(s.station.load().activeSessions).toBe(bySite[s.station.id] ?? -1);
    }
  });
});
