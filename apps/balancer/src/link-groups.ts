/**
 * Substations one process hosts together (SUBSTATION_SITES) answer getLoad with the same `linkGroup`
 * (@evgrid/link's link-sites.ts). Their calls then all go on one link, the first member's, each naming its
 * site: the calls of one turn of the event loop leave in one frame and come back in one, instead of one
 * per site, so what a dispatch costs the balancer does not grow with the sites a process hosts.
 *
 * A member leaves its group when a call to it fails (it is probed on its own link until it answers again,
 * naming its group) or the group's process says it does not host it; if it carried the others' calls, the
 * next member's link carries them from then on.
 */
import type { SubstationLoad } from "@evgrid/contract";
import { type LinkRoute, linkOf } from "@evgrid/link";
import type { Member } from "./view-member.ts";

export class LinkGroups {
  private readonly groups = new Map<string, Member[]>();
  /** Each member's site name, as its getLoad answer gave it. */
  private readonly sites = new WeakMap<Member, string>();

  /**
   * getLoad's answer: the load alone (the group stays inside the grid), `m` joined to the group it names.
   * `routed`: it came on another member's link, from the site named, wherever that is now. A different
   * group or site (that process restarted, maybe with other sites on its ports) is not taken as `m`'s: `m`
   * is back on its own link, and this answer fails, so the next probe asks whoever answers at its URL.
   */
  answered(m: Member, answer: SubstationLoad & { linkGroup?: string }, routed: boolean): SubstationLoad {
    if (answer.linkGroup === undefined) {
      this.leave(m);
      return answer;
    }
    const { linkGroup, ...load } = answer;
    if (m.linkGroup !== linkGroup || this.sites.get(m) !== load.substationId) {
      this.leave(m);
      if (routed) throw new Error("its process changed since it was last asked on its own link");
      m.linkGroup = linkGroup;
      this.sites.set(m, load.substationId);
      const members = this.groups.get(linkGroup) ?? [];
      this.groups.set(linkGroup, members);
      members.push(m);
      this.reroute(members);
    }
    return load;
  }

  /**
   * `m` calls on its own link until it names its group again. True if that link carried other members'
   * calls (they go on another's from now on; those already out on it are still to be answered there).
   */
  leave(m: Member): boolean {
    const group = m.linkGroup;
    m.route = undefined;
    if (group === null) return false;
    m.linkGroup = null;
    const members = this.groups.get(group) ?? [];
    const at = members.indexOf(m);
    if (at >= 0) members.splice(at, 1);
    if (members.length === 0) this.groups.delete(group);
    else if (at === 0) this.reroute(members);
    return at === 0 && members.length > 0;
  }

  /** Every member of a group calls on its first member's link, naming its own site. */
  private reroute(members: Member[]): void {
    const [first] = members;
    const link = first?.client[linkOf] ?? null;
    for (const m of members) {
      const site = this.sites.get(m);
      m.route =
        m === first || link === null || site === undefined
          ? undefined
          : ({ link, site, missed: () => this.leave(m) } satisfies LinkRoute);
    }
  }
}
