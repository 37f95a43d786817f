export * from "./charge.ts";
export * from "./errors.ts";
export * from "./substation.ts";
