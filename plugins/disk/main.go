// Command disk is the towerd collector of disk_list_update: every disk in
// Unraid's disks.ini with usage, I/O counters and SMART health. See
// README.md.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
