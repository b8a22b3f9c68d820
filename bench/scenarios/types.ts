// The scenario contract: adding a proxy to the benchmark = one file exporting a Scenario, listed in index.ts.
import type { Pinning } from '../lib/env.ts';

export interface BackendAddress {
  readonly host: string;
  readonly port: number;
}

/** What a scenario gets when it starts. */
export interface ScenarioContext {
  readonly backend: BackendAddress;
  /** The backend's addresses (`backend` first): the targets of a multi-target pool. */
  readonly backends: readonly BackendAddress[];
  /** A fresh, world-readable temp dir for this start; removed after stop. */
  readonly tmpDir: string;
  readonly pinning: Pinning;
}

/** A running proxy (or none, for `direct`). */
export interface RunningScenario {
  /** Base URL the load generator hits, without trailing slash, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Root pids of the proxy's process tree (CPU and RSS are summed over their descendants too); empty for none. */
  readonly pids: readonly number[];
  /** Headers every probe and load request carries (e.g. the deployment id of deployment routing). */
  readonly requestHeaders?: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** null when it can run on this machine, else the reason it is skipped (e.g. "nginx not installed"). */
  unavailableReason(): string | null;
  start(ctx: ScenarioContext): Promise<RunningScenario>;
}
