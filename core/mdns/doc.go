// Package mdns announces towerd on the local network by multicast DNS /
// DNS-SD, so Home Assistant's Unraid integration (which browses for
// _unraid-mgmt-agent._tcp) finds an agent without the user typing its
// address.
//
// Two ways to announce, chosen at start (Options.Mode, default "auto"):
//
//   - avahi: when avahi-daemon runs (Unraid always runs it), a service file
//     is written to /etc/avahi/services and removed at stop. avahi watches
//     that folder, publishes the service on every interface, follows
//     address changes, resolves name conflicts and sends the goodbye when
//     the file goes. towerd opens no socket and starts no goroutine for it.
//     (If the folder cannot be written, auto mode falls back to builtin.)
//   - builtin: on a host without avahi, a small responder in this package
//     (golang.org/x/net/dns/dnsmessage for the wire format, already a
//     dependency) joins 224.0.0.251:5353 with SO_REUSEADDR and SO_REUSEPORT,
//     so it shares the port with any other responder, answers queries for
//     the service, announces it at start and whenever an interface address
//     changes (a netlink subscription wakes it, no polling) and sends
//     TTL-0 goodbyes at stop. IPv4 only.
//
// Why not a Go responder next to avahi: measured in a network namespace,
// both bind 0.0.0.0:5353 side by side (ss -ulpn lists both sockets, and
// the kernel hands every multicast query to each), so it would work; but
// both would then publish <host>.local, and with towerd bound to one of
// several addresses the two send different address sets for one name,
// each flagged cache-flush, so other hosts' caches flip between them.
// avahi owns the host name (it renames it on a conflict on the network)
// and already watches the interfaces; handing it a file keeps one source
// of truth and costs the agent nothing.
//
// hashicorp/mdns was the other candidate for the builtin path; it answers
// queries but never announces, sends no goodbye and does not follow
// address changes, which the integration relies on to notice an agent
// coming and going, so the few records needed are built here instead.
package mdns
