/** Types only: clients import the router's shape, never the server code. */
export type { SubstationRouter } from "./router.ts";
