/** Types only: clients import the router's shape, never the server code. */
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { GatewayRouter } from "./router.ts";

export type { GatewayRouter } from "./router.ts";
/** What each procedure takes, as a caller writes it (defaults optional). */
export type RouterInputs = inferRouterInputs<GatewayRouter>;
/** What each procedure answers. */
export type RouterOutputs = inferRouterOutputs<GatewayRouter>;
