export * from "./admission.ts";
export * from "./choice.ts";
export * from "./water-filling.ts";
