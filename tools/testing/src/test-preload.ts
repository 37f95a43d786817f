/**
 * Loaded before every test file (bunfig.toml, [test] preload). Its hooks are global: once a process has run
 * its test files, the directories `scratchDir` made are gone, also those of a shared fixture whose own
 * `afterEach` only the first file that imported it runs (`bun test <folder>` runs a folder's files in one
 * process; `--parallel` gives each its own).
 */
import { afterAll } from "bun:test";
import { removeScratchDirs } from "./temp.ts";

afterAll(removeScratchDirs);
