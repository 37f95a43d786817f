/** Types only: clients import the router's shape, never the server code. */
export type { BalancerRouter } from "./router.ts";
