//go:build unix

package connection

import (
	"syscall"
	"unsafe"
)

// writeFD writes b.out with write(2) calls until it is written or the
// kernel buffer is full. It is called by RawConn.Write and never asks it to
// wait: a full buffer (EAGAIN) goes to the blocking writer instead.
//
// The write is a raw system call, hidden from the Go scheduler: it cannot
// block (the socket is non-blocking), and telling the scheduler about it
// lets the runtime's monitor thread take the processor away during every
// write and switch threads, which on a busy core costs more than the write.
func (b *writeBatch) writeFD(fd uintptr) bool {
	for b.written < len(b.out) {
		rest := b.out[b.written:]
		m, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		if errno == 0 {
			b.written += int(m)
			continue
		}
		if errno == syscall.EINTR {
			continue
		}
		b.writeErr = errno
		break
	}
	return true
}
