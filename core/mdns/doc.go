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
//   - builtin: on a host without avahi, a small responder in this package
//     (golang.org/x/net/dns/dnsmessage for the wire format, already a
//     dependency) joins 224.0.0.251:5353 with SO_REUSEADDR and SO_REUSEPORT,
//     so it shares the port with any other responder, answers queries for
//     the service, announces it at start and whenever an interface address
//     changes (a netlink subscription wakes it, no polling) and sends
//     TTL-0 goodbyes at stop. IPv4 only.
//
// Why not a Go responder next to avahi: two responders on one port both
// receive every query (the kernel copies multicast datagrams to every
// socket bound with SO_REUSEPORT), but both would then publish the host's
// A record, and only avahi knows the host name it defended on the network
// (it renames "tower" to "tower-2" on a conflict) and watches its own
// interfaces; handing avahi a file keeps one source of truth and costs
// nothing in the agent. hashicorp/mdns was the other candidate for the
// builtin path; it answers queries but never announces, sends no goodbye
// and does not follow address changes, which the integration relies on to
// notice an agent coming and going, so the few records needed are built
// here instead.
package mdns
