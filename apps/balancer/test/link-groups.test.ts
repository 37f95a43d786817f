/** Which link each member's calls go on (link-groups.ts): its group's first member's, or its own. */
import { describe, expect, test } from "bun:test";
import type { SubstationLoad } from "@evgrid/contract";
import { linkOf } from "@evgrid/link";
import { LinkGroups } from "../src/link-groups.ts";
import { type Member, newMember } from "../src/view-member.ts";

/** A member whose client's own link is a marker naming it. */
const member = (name: string): Member =>
  newMember(`http://127.0.0.1/${name}`, false, () => ({ [linkOf]: { name } }) as never);

const answer = (site: string, linkGroup?: string) =>
  ({ substationId: site, capacityKw: 100, ...(linkGroup ? { linkGroup } : {}) }) as SubstationLoad & {
    linkGroup?: string;
  };

/** The link each member's calls go on, by member. */
const links = (...members: Member[]) =>
  members.map((m) =>
    m.route ? `${(m.route.link as unknown as { name: string }).name}/${m.route.site}` : "own",
  );

describe("LinkGroups", () => {
  test("a group's members call on its first member's link; the load comes back without the group", () => {
    const groups = new LinkGroups();
    const [a, b, c] = [member("a"), member("b"), member("c")];
    expect(groups.answered(a, answer("s-a", "g1"), false)).toEqual(answer("s-a"));
    groups.answered(b, answer("s-b", "g1"), false);
    groups.answered(c, answer("s-c"), false); // in no group
    expect(links(a, b, c)).toEqual(["own", "a/s-b", "own"]);
  });

  test("the first member leaving: the next one's link carries the others", () => {
    const groups = new LinkGroups();
    const [a, b, c] = [member("a"), member("b"), member("c")];
    for (const [m, site] of [
      [a, "s-a"],
      [b, "s-b"],
      [c, "s-c"],
    ] as const)
      groups.answered(m, answer(site, "g1"), false);
    expect(groups.leave(a)).toBe(true); // its link carried others' calls: closed only once they are answered
    expect(links(a, b, c)).toEqual(["own", "own", "b/s-c"]);
    expect(groups.leave(c)).toBe(false);
  });

  test("a routed answer naming another group (the process restarted) fails, and puts it on its own link", () => {
    const groups = new LinkGroups();
    const [a, b] = [member("a"), member("b")];
    groups.answered(a, answer("s-a", "g1"), false);
    groups.answered(b, answer("s-b", "g1"), false);
    expect(() => groups.answered(b, answer("s-b", "g2"), true)).toThrow("its process changed");
    expect([b.linkGroup, ...links(a, b)]).toEqual([null, "own", "own"]);
    // Asked on its own link, it joins what answers there.
    groups.answered(b, answer("s-x", "g2"), false);
    expect(b.linkGroup).toBe("g2");
  });
});
