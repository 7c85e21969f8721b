// Package mqtt is the MQTT output: it publishes what the bus holds to an
// MQTT broker, with Home Assistant MQTT discovery, and turns command
// messages into the same requests the REST API serves. Like the WebSocket
// hub it hangs off the bus and never calls a plugin; when it is off it is
// not constructed at all, so it costs no goroutine and no socket.
//
// Topics, under <prefix>/<hostname>/ (prefix default "unraid"):
//
//	availability                      "online" (retained) / "offline" (retained; also the last will)
//	system, array, ups                the latest payload of that topic (retained)
//	disks, docker, vm, gpu, network, shares
//	                                  the whole list (retained) and one retained topic per item:
//	                                  disks/<id>, docker/<name>, vm/<name>, gpu/<index>,
//	                                  network/<name>, shares/<name>
//	notifications, parity_history, parity_schedule, flash, plugins,
//	os_update, mover, fans, user_scripts, zfs_pools
//	                                  the bundles' payloads (bundle.go), with items
//	                                  (user_scripts/<name>, plugins/<name>, fans/<id>,
//	                                  zfs_pools/<name>) and derived topics
//	                                  (notifications/latest, parity_history/last,
//	                                  parity_schedule/next)
//	topics/<topic>                    any other collector's payload (third-party plugins,
//	                                  the bundles' other topics)
//	cmd/…                             commands (see commands.go); results go to result
//
// Client library: github.com/eclipse/paho.mqtt.golang (MQTT 3.1.1). Every
// broker a user may have speaks 3.1.1 (Mosquitto, EMQX, VerneMQ, HiveMQ,
// the Home Assistant add-on), Home Assistant's own MQTT integration
// defaults to it, and nothing used here needs MQTT 5 (retained messages,
// a last will and plain subscriptions are all 3.1.1). The v1 client is the
// long-maintained one, reconnects on its own with backoff, speaks tcp,
// TLS and WebSocket from one URL, and brings two small dependencies;
// paho.golang (MQTT 5) is still v0 and needs its autopaho layer for the
// reconnects this client has built in.
//
// Slow or absent broker: events are coalesced per bus topic (a newer
// payload replaces one not yet sent, which is counted as dropped), so the
// queue holds at most one payload per topic and memory stays flat however
// slow the broker is. While disconnected nothing is queued; on every
// (re)connect the availability, every discovery config and the latest
// state are published again from the bus cache.
//
// A collector disabled at run time: the agent forgets its topic on the
// bus, and after its next batch the worker empties every retained message
// it published for that topic (state, items, discovery configs), so Home
// Assistant removes the entities. No timer: the check rides on the
// worker's wake-ups (any bus event, or a command's completion). What an
// earlier run left retained is cleared once per process (leftovers.go).
package mqtt
