export * from "./charge.ts";
export * from "./errors.ts";
export * from "./public.ts";
export * from "./substation.ts";
