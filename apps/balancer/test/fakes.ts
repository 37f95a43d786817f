/** Stand-ins for a substation's typed client, for unit tests of the balancer's own logic (no sockets). */
import type { SubstationLoad } from "@evgrid/contract";
import { closeLink, type InternalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";

export const loadOf = (substationId: string, over: Partial<SubstationLoad> = {}): SubstationLoad => ({
  substationId,
  capacityKw: 150,
  limitKw: null,
  effectiveCapacityKw: 150,
  allocatedKw: 0,
  demandKw: 0,
  committedMinKw: 0,
  activeSessions: 0,
  utilization: 0,
  headroomKw: 150,
  draining: false,
  version: 1,
  measuredAtMs: 0,
  ...over,
});

/** A substation whose getLoad answers `answer()` (a load, or a thrown error); counts the probes. */
export function fakeSubstation(answer: () => SubstationLoad | Promise<SubstationLoad>) {
  const fake = { probes: 0 };
  const client = {
    getLoad: {
      query: async () => {
        fake.probes += 1;
        return answer();
      },
    },
    [closeLink]: () => {},
  } as unknown as InternalClient<SubstationRouter>;
  return Object.assign(fake, { client });
}
