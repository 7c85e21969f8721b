// Package atomicfile writes a file so that a reader, or the next start
// after a crash or power loss, sees either the old contents or the new
// ones, never a torn mix: write a temporary file beside it, fsync, rename
// over it, fsync the directory. The core's settings, the avahi service
// file and Unraid's Docker autostart list are written this way.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with b, with permissions perm. The directory must
// exist. On error path is unchanged and no temporary file is left.
func Write(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".towerd-*.tmp") // a leftover names its writer
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := writeSynced(tmp, b, perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename itself is durable only once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func writeSynced(f *os.File, b []byte, perm os.FileMode) error {
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	return f.Sync()
}
