package sdk

// Version is the towerd release the SDK belongs to. The Makefile sets it
// with -ldflags "-X github.com/towerd/towerd/sdk.Version=…"; built-in
// plugins and the core report it.
var Version = "0.1.0-dev"
