import { registrationSchema } from "@evgrid/contract";
import { internalProcedure, router } from "@evgrid/kit";

/** What a balancer does with a substation that announces itself. */
export interface Members {
  /** Joins (or, called again, heartbeats); the substation is probed at once if it is out of rotation. */
  register(
    url: string,
  ): Promise<{ url: string; id: string | null; healthy: boolean; lastError: string | null }>;
  /** Leaves at once (a graceful shutdown); false if it was not registered. */
  deregister(url: string): boolean;
}

/** The procedures a balancer serves for membership (service token only), to merge into its router. */
export function membershipProcedures(members: Members) {
  return {
    /** A substation joins (and heartbeats by calling this again). */
    register: internalProcedure.input(registrationSchema).mutation(async ({ input }) => {
      const member = await members.register(input.url);
      return {
        url: member.url,
        substationId: member.id,
        healthy: member.healthy,
        lastError: member.lastError,
      };
    }),
    /** A substation leaves on a graceful shutdown. */
    deregister: internalProcedure
      .input(registrationSchema)
      .mutation(({ input }) => ({ removed: members.deregister(input.url) })),
  };
}

const membershipRouter = (members: Members) => router(membershipProcedures(members));
/** The membership part of a balancer's router: what a substation's heartbeat client is typed by. */
export type MembershipRouter = ReturnType<typeof membershipRouter>;
