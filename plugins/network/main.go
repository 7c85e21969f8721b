// Command network is the towerd plugin behind network_list_update: one
// item per network interface with addresses, link state, speed and
// traffic counters.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
