/** Types only: clients import the router's shape, never the server code. */
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { ChargeApiRouter } from "./router.ts";

export type { ChargeApiRouter, ChargeApiRouter as AppRouter } from "./router.ts";
/** What each procedure takes, as a caller writes it (defaults optional). */
export type RouterInputs = inferRouterInputs<ChargeApiRouter>;
/** What each procedure answers. */
export type RouterOutputs = inferRouterOutputs<ChargeApiRouter>;
