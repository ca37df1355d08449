// The figures of one runtime's run of `deno task bench`, as node.ts hands them back to bench.ts
// and _report.ts writes them to RESULTS.md.
import type { ColdImportResult } from "./_cold_import.ts";
import type { CliResults, RedisResults } from "./_extras.ts";
import type { FetchResults } from "./_fetch.ts";
import type { FleetResult, StampedeResult } from "./_fleet.ts";
import type { BoundaryResult, OutageResult } from "./_lifecycle.ts";
import type { Comparison } from "./_measure.ts";

/** Every figure of one runtime's run, as written to RESULTS.md. */
export interface RuntimeResults {
  runtime: string;
  getToken?: Comparison;
  fetch?: FetchResults;
  stampede?: StampedeResult[];
  fleet?: FleetResult[];
  fileRead?: Comparison;
  kvRead?: Comparison;
  coldImport?: ColdImportResult;
  refreshBoundary?: BoundaryResult;
  outage?: OutageResult;
  redis?: RedisResults;
  cli?: CliResults;
  errors: string[];
}
