// Package storagetest holds the end-to-end test of the storage collectors
// (array, disk, shares): the real towerd binary runs the three real plugins
// on the fixture Unraid tree, and a WebSocket client and REST calls see
// their events. It has no non-test code.
package storagetest
