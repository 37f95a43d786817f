export * from "./attributes.ts";
export * from "./env.ts";
export type { LogEvent } from "./logs.ts";
export * from "./setup.ts";
