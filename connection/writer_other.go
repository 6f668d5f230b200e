//go:build !unix

package connection

import "syscall"

// writeFD reports a full socket at once where raw writes are not
// available, which sends every write to the blocking writer.
func (b *writeBatch) writeFD(uintptr) bool {
	b.writeErr = syscall.EAGAIN
	return true
}
