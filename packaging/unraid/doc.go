// Package unraid holds the files that install towerd as an Unraid plugin —
// the towerd.plg manifest, the rc.towerd service script, the default
// settings and build.sh, which `make package` runs — and the test that
// builds the package, unpacks it into a temporary root and drives rc.towerd
// start/stop/restart/status against the real binaries. There is no Go code
// to import here.
package unraid
