import { expect, test } from "bun:test";
import { Random } from "../src/arrivals.ts";
import { SiteClock } from "../src/site-clock.ts";

test("the site clock always answers the earliest wake-up, over seeded histories of sets and clears", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const random = new Random(seed);
    const sites = 1 + Math.floor(random.next() * 12);
    const clock = new SiteClock(sites);
    const model = new Array<number>(sites).fill(Number.POSITIVE_INFINITY);
    for (let step = 0; step < 300; step++) {
      const site = Math.floor(random.next() * sites);
      const t = random.next() < 0.2 ? Number.POSITIVE_INFINITY : Math.floor(random.next() * 50);
      clock.set(site, t);
      model[site] = t;
      const earliest = Math.min(...model);
      const top = clock.peek();
      const context = { seed, step };
      if (earliest === Number.POSITIVE_INFINITY)
        expect({ ...context, top }).toEqual({ ...context, top: undefined });
      else
        expect({ ...context, t: top?.t, site: model[top?.site ?? -1] }).toEqual({
          ...context,
          t: earliest,
          site: earliest,
        });
    }
  }
});
