/** Types only: clients import the router's shape, never the server code. */
export type { ChargeApiRouter, ChargeApiRouter as AppRouter } from "./router.ts";
