// Package unraid holds the files that install towerd as an Unraid plugin —
// the towerd.plg manifest, the rc.towerd service script, the array event
// hook, the default settings, the webGUI settings page (webgui/) and
// build.sh, which `make package` runs — and their tests: one builds the
// package (twice, to prove it reproducible), unpacks it into a temporary
// root and drives rc.towerd and the hooks against the real binaries; one
// renders the settings page with php-cli under a stand-in webGUI
// (testdata/webgui) and drives it in headless Chromium. There is no Go code
// to import here.
package unraid
