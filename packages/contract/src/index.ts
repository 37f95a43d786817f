export * from "./booking.ts";
export * from "./charge.ts";
export * from "./errors.ts";
export * from "./internal-hop.ts";
export * from "./public.ts";
export * from "./session-inputs.ts";
export * from "./substation.ts";
