// Command unraid is the towerd bundle of Unraid's own state: one process
// serves the notification, parity history and schedule, user script,
// flash, plugin, OS update, registration, network service, mover, disk
// threshold, unassigned device and fan collectors, each with its own name,
// topic and interval. See README.md.
package main

import "github.com/towerd/towerd/sdk"

func main() {
	sdk.Serve(newNotifications(), newParityHistory(), newParitySchedule(), newUserScripts(),
		newFlash(), newPlugins(), newOSUpdate(), newRegistration(), newNetworkServices(),
		newMover(), newDiskThresholds(), newUnassigned(), newFans())
}
