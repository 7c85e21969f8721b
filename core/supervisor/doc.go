// Package supervisor runs collector plugins as child processes through
// go-plugin: it finds them in the plugins directory, starts the enabled ones,
// verifies what they say of themselves, notices when one exits or hangs,
// kills and restarts it with capped exponential backoff, and keeps the
// per-plugin state the API reports.
package supervisor
