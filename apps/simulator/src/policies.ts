/**
 * The policies the simulator compares on the same arrivals. Labels carry no numbers: the report numbers
 * them. `--policy a,b` picks a subset by id (`policyById`).
 */
export type PolicyId =
  | "fewest-sessions"
  | "least-utilization"
  | "evgrid"
  | "evgrid-priorities"
  | "edf"
  | "llf"
  | "evgrid-deadlines";

/**
 * How a site's power is divided among its live sessions:
 * - `max`: everyone draws its maximum, whatever the site can take (the original system);
 * - `water`: water-filling above the minimums (reshareSite without departures: today's shares);
 * - `edf` / `llf`: minimums first, then the rest to the earliest departure / least laxity first, each up
 *   to its maximum (the classic online rules);
 * - `deadlines`: reshareSite with departures: floors by need (out of slack to its required rate; those that
 *   cannot make it, then those with slack, to their maximum, earliest departure first), then water-filling,
 *   re-shared when a session's standing changes.
 */
export type ShareRule = "max" | "water" | "edf" | "llf" | "deadlines";

export interface Policy {
  id: PolicyId;
  label: string;
  /** Admission on minimums, waiting, curtailment: this system's rules (else none: every car starts). */
  controlled: boolean;
  /** Priority classes as weights and queue order (else everyone is standard). */
  priorities: boolean;
  /** Which site a car is sent to. */
  choice: "fewest-sessions" | "least-utilization" | "evgrid";
  share: ShareRule;
}

export const POLICIES: readonly Policy[] = [
  {
    id: "fewest-sessions",
    label: "fewest sessions, no admission (original)",
    controlled: false,
    priorities: false,
    choice: "fewest-sessions",
    share: "max",
  },
  {
    id: "least-utilization",
    label: "least utilization, no admission",
    controlled: false,
    priorities: false,
    choice: "least-utilization",
    share: "max",
  },
  {
    id: "evgrid",
    label: "evgrid: capacity-weighted, admission, water-filling, waiting",
    controlled: true,
    priorities: false,
    choice: "evgrid",
    share: "water",
  },
  {
    id: "evgrid-priorities",
    label: "evgrid with priorities",
    controlled: true,
    priorities: true,
    choice: "evgrid",
    share: "water",
  },
  {
    id: "edf",
    label: "earliest deadline first (evgrid admission)",
    controlled: true,
    priorities: false,
    choice: "evgrid",
    share: "edf",
  },
  {
    id: "llf",
    label: "least laxity first (evgrid admission)",
    controlled: true,
    priorities: false,
    choice: "evgrid",
    share: "llf",
  },
  {
    id: "evgrid-deadlines",
    label: "evgrid with deadlines: by need, front-loaded, water-filling",
    controlled: true,
    priorities: false,
    choice: "evgrid",
    share: "deadlines",
  },
];

export const policyById = (id: string): Policy | undefined => POLICIES.find((p) => p.id === id);
