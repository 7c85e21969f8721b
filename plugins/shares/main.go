// Command shares is the towerd collector of share_list_update: the user
// shares in Unraid's shares.ini with their usage. See README.md.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
