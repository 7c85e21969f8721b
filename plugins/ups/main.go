// Command ups is the towerd UPS collector: it reads a NUT upsd or an
// apcupsd NIS server over TCP and publishes ups_status_update.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
