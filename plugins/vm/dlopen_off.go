//go:build !libvirt_dlopen

package main

// dlopenBuild: this binary is linked against libvirt.so (built with the
// libvirt headers); without the library it does not start at all, so the
// shipped plugin is built with -tags libvirt_dlopen.
const dlopenBuild = false

func libraryAvailable() error { return nil }
