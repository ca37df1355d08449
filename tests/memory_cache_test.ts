import { MemoryCache } from "@propq/auth";
import { testCacheContract } from "./_cache_contract.ts";

testCacheContract("MemoryCache", () => {
  const cache = new MemoryCache();
  return Promise.resolve({ cache, reopen: () => Promise.resolve(cache), cleanup: () => Promise.resolve() });
});
