// Package bankgen generates a seeded, deterministic banking workload for
// evgit's tests and benchmarks, and folds it back with plain Go code to give
// the expected state.
//
// The workload is shaped to exercise what an event store finds hard, with
// events the SPEC §4 banking model (Model) always accepts:
//
//   - Account popularity follows a Zipf law, so a few hot streams collect
//     thousands of events (long histories, many snapshots at snapshot_every,
//     deep delta chains, contended appends) while a long tail of streams
//     holds a handful each (many small files, wide trees). Streams are
//     named acc-000000, acc-000001, ...; acc-000000 is the hottest.
//   - The mix is dominated by deposits and withdrawals but includes freezes,
//     unfreezes and fees, so every require rule of the model is on the path
//     (no overdraft, no withdrawal from a frozen account), and a generated
//     event is never refused: each account starts with AccountOpened, and a
//     type the account's state does not allow falls back to MoneyDeposited.
//   - One FeeCharged in four is written at schema 1 with the old field
//     "value", so the model's upcast rule runs on real data.
//   - Amounts are JSON integers and business times advance by a fixed step,
//     so folds are exact and time-based queries have a known answer.
//
// Everything is derived from Config.Seed through a PCG and fixed integer
// mappings, so the same Config gives the same bytes on every run and
// platform. Generator emits the events, Write streams them as NDJSON (a
// million events in well under a second), and Replayer or Fold compute the
// expected account states at any prefix.
package bankgen
