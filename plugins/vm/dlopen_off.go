//go:build !libvirt_dlopen

package main

// Without libvirt_dlopen the binary is linked against libvirt.so (built
// with the libvirt headers) and does not start at all without the library,
// so the shipped plugin is built with -tags libvirt_dlopen.

func libraryAvailable() error { return nil }
