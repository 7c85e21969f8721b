// Package unraid reads the state files Unraid's emhttpd keeps under
// /var/local/emhttp (var.ini, disks.ini, shares.ini) and the config files on
// the flash drive under /boot/config, all relative to a configurable root so
// the same code runs against a fixture tree. It is shared by the array, disk
// and shares plugins: one parser for Unraid's ini dialect, typed readers on
// top, and small helpers (statfs, log-once source health).
package unraid
