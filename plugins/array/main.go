// Command array is the towerd collector of array_status_update: array
// state, disk counts, parity check status and capacity from Unraid's
// var.ini and disks.ini. See README.md.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
