/**
 * Apps of one process that take each other's calls (a substation process hosting many sites): a link to one
 * of them carries calls for all, each naming its site (`site` beside `params`, ours). A caller that talks to
 * 64 sites of one process then holds one link to it, and the calls of one turn of the event loop go out (and
 * come back) as one frame instead of one per site: per-frame work (system calls, wake-ups) no longer grows
 * with the number of sites a process hosts.
 *
 * Sites are grouped by process and service token: a group is a digest of both, so a call reaches only a site
 * of the same process that would have taken the link's token itself, and the digest says nothing of the
 * token. Callers learn the group from the site (the substation's getLoad answer).
 */
import { createHash, randomBytes } from "node:crypto";
import type { TraceFields } from "./messages.ts";
import type { RunningCall } from "./running-call.ts";

const PROCESS_NONCE = randomBytes(16).toString("hex");

/** The group of the sites of this process that share `serviceToken`. */
export function linkGroupOf(serviceToken: string): string {
  return createHash("sha256")
    .update(PROCESS_NONCE)
    .update("\0")
    .update(serviceToken)
    .digest("hex")
    .slice(0, 32);
}

/** What a link needs to run a call on a site: its own links run it the same way. */
export interface HostedSite {
  run(
    send: (message: object) => void,
    id: string | number,
    method: "query" | "mutation" | "subscription",
    params: { path: string; input?: unknown },
    trace: TraceFields,
    deadlineAtMs: number | null,
    running: Map<string | number, RunningCall>,
  ): Promise<void>;
}

const hosted = new Map<string, HostedSite>();
const keyOf = (group: string, site: string) => `${group}\0${site}`;

/**
 * Hosts `site` in `group`: links to any site of the group may call it. Returns its removal, or null if the
 * group already has a site by that name (it stays the one reached).
 */
export function hostSite(group: string, site: string, runner: HostedSite): (() => void) | null {
  const key = keyOf(group, site);
  if (hosted.has(key)) return null;
  hosted.set(key, runner);
  return () => {
    if (hosted.get(key) === runner) hosted.delete(key);
  };
}

/** The site `site` of `group` hosted by this process, if any. */
export const hostedSite = (group: string, site: string): HostedSite | undefined =>
  hosted.get(keyOf(group, site));
