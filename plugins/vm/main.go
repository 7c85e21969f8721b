// Command vm is the towerd collector plugin for libvirt virtual machines: it
// publishes vm_list_update and offers start/stop/force-stop/restart/pause/
// resume/hibernate/reset.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
