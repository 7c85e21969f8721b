// Package supervisor runs collector plugins as child processes through
// go-plugin: it finds them in the plugins directory, starts the enabled ones,
// verifies what they say of themselves, notices when one exits or hangs,
// kills and restarts it with capped exponential backoff, and keeps the
// per-collector state the API reports.
//
// It is keyed by process and answers by collector: a plugin file serves one
// collector of its own name or, as a bundle, several; the process runs
// while any of its collectors is wanted. Every plugin runs in its own
// process group with a minimal environment and dies with the core; every
// stop is bounded, and no plugin call is made under a lock other plugins
// need.
package supervisor
