// Command docker is the towerd collector plugin for Docker containers: it
// publishes container_list_update and offers start/stop/restart/pause/unpause.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
