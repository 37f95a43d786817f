export * from "./join.ts";
export * from "./procedures.ts";
