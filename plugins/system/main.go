// Command system is the towerd plugin behind system_update: host, CPU,
// memory, temperatures, fans and firmware facts.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
