// Command zfs is the towerd bundle of ZFS state: pools (collector zfs),
// datasets, snapshots and the ARC, from `zpool`/`zfs` with -H -p and
// /proc/spl/kstat/zfs/arcstats. See README.md.
package main

import "github.com/towerd/towerd/sdk"

func main() {
	z := &tools{}
	sdk.Serve(newPools(z), newDatasets(z), newSnapshots(z), newARC())
}
