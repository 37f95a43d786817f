export * from "./attributes.ts";
export * from "./env.ts";
export * from "./setup.ts";
