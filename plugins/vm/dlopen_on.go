//go:build libvirt_dlopen

package main

import "fmt"

// libraryAvailable checks for libvirt.so.0 before the binding is touched:
// the binding tries dlopen once per process and remembers a failure, so
// probing first lets the plugin pick libvirt up when it is installed later,
// without a restart.
func libraryAvailable() error {
	if err := probeLibrary(libvirtSoname); err != nil {
		return fmt.Errorf("libvirt library not loadable: %w", err)
	}
	return nil
}
