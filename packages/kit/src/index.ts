export * from "./client.ts";
export * from "./env.ts";
export * from "./errors.ts";
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./process.ts";
export * from "./server.ts";
export * from "./trpc.ts";
