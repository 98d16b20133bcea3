//go:build unix

package journal

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f, or fails at once if another open
// file holds it (another process, or another component of this one).
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
