export * from "./charge.ts";
export * from "./errors.ts";
export * from "./results.ts";
export * from "./substation.ts";
