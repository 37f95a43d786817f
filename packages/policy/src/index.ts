export * from "./admission.ts";
export * from "./choice.ts";
export * from "./curtailment.ts";
export * from "./dispatch.ts";
export * from "./priority.ts";
export * from "./quota.ts";
export * from "./reclaim.ts";
export * from "./water-filling.ts";
