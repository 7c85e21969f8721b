package unraid

import (
	"fmt"
	"syscall"
)

// Usage is a file system's size in bytes, as df shows it.
type Usage struct {
	Total uint64 // Used + Free
	Used  uint64 // blocks in use
	Free  uint64 // blocks available to unprivileged users
}

// Percent is Used/Total×100, 0 for an empty total, rounded to 2 decimals.
func (u Usage) Percent() float64 { return Percent(u.Used, u.Total) }

// Percent returns part/total×100 rounded to 2 decimals, 0 when total is 0.
func Percent(part, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return Round2(float64(part) / float64(total) * 100)
}

// Round2 rounds to 2 decimals.
func Round2(f float64) float64 {
	if f >= 0 {
		return float64(int64(f*100+0.5)) / 100
	}
	return float64(int64(f*100-0.5)) / 100
}

// Statfs returns the usage of the file system holding path.
func Statfs(path string) (Usage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return Usage{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := uint64(st.Bsize)
	used := (st.Blocks - st.Bfree) * bs
	free := st.Bavail * bs
	return Usage{Total: used + free, Used: used, Free: free}, nil
}
