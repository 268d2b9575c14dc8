package ipcsync

import (
	"fmt"
	"unsafe"
)

// region checks that mem can hold an object of size bytes at an 8-byte
// aligned address and returns a pointer to its first byte.
func region(kind string, mem []byte, size uintptr) (unsafe.Pointer, error) {
	if uintptr(len(mem)) < size {
		return nil, fmt.Errorf("%w: %s needs %d bytes, got %d", ErrMemory, kind, size, len(mem))
	}
	p := unsafe.Pointer(unsafe.SliceData(mem))
	if uintptr(p)%8 != 0 {
		return nil, fmt.Errorf("%w: %s at %p is not 8-byte aligned", ErrMemory, kind, p)
	}
	return p, nil
}

// lowHalf returns the address of the least significant 32 bits of *p, the
// half that the futex operations watch.
func lowHalf(p *uint64) *uint32 {
	if littleEndian {
		return (*uint32)(unsafe.Pointer(p))
	}
	return (*uint32)(unsafe.Add(unsafe.Pointer(p), 4))
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
