package main

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static const char *probe_lib(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		return e ? e : "dlopen failed";
	}
	dlclose(h);
	return NULL;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// libvirtSoname is the library a libvirt_dlopen build loads at run time.
const libvirtSoname = "libvirt.so.0"

// probeLibrary reports whether the shared library name can be loaded now.
func probeLibrary(name string) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if msg := C.probe_lib(cs); msg != nil {
		return errors.New(C.GoString(msg))
	}
	return nil
}
