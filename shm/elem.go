package shm

import (
	"fmt"
	"math"
	"reflect"
	"sync/atomic"
	"unsafe"
)

// Number is the set of element types of Value and Array: the Go types of
// Python's numeric array typecodes.
//
//	Go       Python typecodes (C type)
//	int8     'b' (signed char)
//	uint8    'B' (unsigned char)
//	int16    'h' (short)
//	uint16   'H' (unsigned short)
//	int32    'i' (int)
//	uint32   'I' (unsigned int)
//	int64    'q' (long long, the default) or 'l' (long, 8 bytes on 64-bit Unix)
//	uint64   'Q' (unsigned long long, the default) or 'L' (unsigned long)
//	float32  'f' (float)
//	float64  'd' (double)
//
// bool, Python's '?', has its own types, Bool and BoolArray, which offer
// no arithmetic.
type Number interface {
	~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~float32 | ~float64
}

// Elem is Number or bool: the element types that ArraySize accepts.
type Elem interface {
	Number | ~bool
}

// elemInfo describes an element type: its default typecode, the typecodes
// it accepts, its size and whether it is a float.
type elemInfo struct {
	codes string // accepted typecodes, default first
	size  int
	float bool
}

func infoOf[T Elem]() elemInfo {
	var z T
	size := int(unsafe.Sizeof(z))
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Int8:
		return elemInfo{"b", size, false}
	case reflect.Uint8:
		return elemInfo{"B", size, false}
	case reflect.Int16:
		return elemInfo{"h", size, false}
	case reflect.Uint16:
		return elemInfo{"H", size, false}
	case reflect.Int32:
		return elemInfo{"i", size, false}
	case reflect.Uint32:
		return elemInfo{"I", size, false}
	case reflect.Int64:
		return elemInfo{"ql", size, false}
	case reflect.Uint64:
		return elemInfo{"QL", size, false}
	case reflect.Float32:
		return elemInfo{"f", size, true}
	case reflect.Float64:
		return elemInfo{"d", size, true}
	case reflect.Bool:
		return elemInfo{"?", size, false}
	}
	panic("unreachable: Elem constraint")
}

// pick returns the typecode to use: the default, or code when T accepts it.
func (e elemInfo) pick(code byte) (byte, error) {
	if code == 0 {
		return e.codes[0], nil
	}
	for i := 0; i < len(e.codes); i++ {
		if e.codes[i] == code {
			return code, nil
		}
	}
	return 0, fmt.Errorf("shm: typecode %q does not fit the element type (want one of %q)", code, e.codes)
}

// littleEndian is the native byte order, for the lane of a byte or a
// halfword inside its 32-bit word.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// bitsOf returns v's bit pattern, zero-extended.
func bitsOf[T Elem](v T) uint64 {
	p := unsafe.Pointer(&v)
	switch unsafe.Sizeof(v) {
	case 1:
		return uint64(*(*uint8)(p))
	case 2:
		return uint64(*(*uint16)(p))
	case 4:
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

// fromBits is the inverse of bitsOf.
func fromBits[T Elem](u uint64) T {
	var v T
	p := unsafe.Pointer(&v)
	switch unsafe.Sizeof(v) {
	case 1:
		*(*uint8)(p) = uint8(u)
	case 2:
		*(*uint16)(p) = uint16(u)
	case 4:
		*(*uint32)(p) = uint32(u)
	default:
		*(*uint64)(p) = u
	}
	return v
}

// lane locates an element of size 1 or 2 at p inside its aligned 32-bit
// word: the word, the shift of the element's bits and their mask.
func lane(p unsafe.Pointer, size uintptr) (*uint32, uint, uint32) {
	off := uintptr(p) & 3
	w := (*uint32)(unsafe.Add(p, -int(off)))
	var shift uint
	if littleEndian {
		shift = uint(off * 8)
	} else {
		shift = uint((4 - size - off) * 8)
	}
	mask := uint32(1)<<(size*8) - 1
	return w, shift, mask << shift
}

// The atomic operations on an element at p of T's size. Elements of 1 and
// 2 bytes use compare-and-swap loops on their aligned 32-bit word, which
// always lies inside the data area (see the Layout section).

func atomicLoad[T Elem](p unsafe.Pointer) T {
	var z T
	switch size := unsafe.Sizeof(z); size {
	case 1, 2:
		w, shift, mask := lane(p, size)
		return fromBits[T](uint64((atomic.LoadUint32(w) & mask) >> shift))
	case 4:
		return fromBits[T](uint64(atomic.LoadUint32((*uint32)(p))))
	}
	return fromBits[T](atomic.LoadUint64((*uint64)(p)))
}

func atomicStore[T Elem](p unsafe.Pointer, v T) {
	switch size := unsafe.Sizeof(v); size {
	case 1, 2:
		atomicSwap(p, v)
	case 4:
		atomic.StoreUint32((*uint32)(p), uint32(bitsOf(v)))
	default:
		atomic.StoreUint64((*uint64)(p), bitsOf(v))
	}
}

func atomicSwap[T Elem](p unsafe.Pointer, v T) T {
	switch size := unsafe.Sizeof(v); size {
	case 1, 2:
		w, shift, mask := lane(p, size)
		nb := uint32(bitsOf(v)) << shift
		for {
			old := atomic.LoadUint32(w)
			if atomic.CompareAndSwapUint32(w, old, old&^mask|nb) {
				return fromBits[T](uint64((old & mask) >> shift))
			}
		}
	case 4:
		return fromBits[T](uint64(atomic.SwapUint32((*uint32)(p), uint32(bitsOf(v)))))
	}
	return fromBits[T](atomic.SwapUint64((*uint64)(p), bitsOf(v)))
}

// atomicCAS compares bit patterns (so for floats NaN can equal NaN and
// -0 differs from +0).
func atomicCAS[T Elem](p unsafe.Pointer, old, new T) bool {
	switch size := unsafe.Sizeof(old); size {
	case 1, 2:
		w, shift, mask := lane(p, size)
		ob, nb := uint32(bitsOf(old))<<shift, uint32(bitsOf(new))<<shift
		for {
			cur := atomic.LoadUint32(w)
			if cur&mask != ob {
				return false
			}
			if atomic.CompareAndSwapUint32(w, cur, cur&^mask|nb) {
				return true
			}
		}
	case 4:
		return atomic.CompareAndSwapUint32((*uint32)(p), uint32(bitsOf(old)), uint32(bitsOf(new)))
	}
	return atomic.CompareAndSwapUint64((*uint64)(p), bitsOf(old), bitsOf(new))
}

// addAt is Add of Value and Array on the element at p, whose object's
// xadd is xadd: one locked add for 4- and 8-byte integers (T's conversions
// to and from the unsigned word are reinterpretations for those types), a
// compare-and-swap loop for the others (addCAS).
func addAt[T Number](xadd byte, p unsafe.Pointer, delta T) T {
	switch xadd {
	case 8:
		return T(atomic.AddUint64((*uint64)(p), uint64(delta)))
	case 4:
		return T(atomic.AddUint32((*uint32)(p), uint32(delta)))
	}
	addCAS(xadd, p, unsafe.Pointer(&delta))
	return delta
}

// addCAS adds *d to the element at p with a compare-and-swap loop and
// stores the new value in *d: floats (kind addFloat32, addFloat64) and 1-
// and 2-byte integers (kind 1, 2). kind is the object's xadd. Working on
// bits, it needs no generic instantiation per type.
func addCAS(kind byte, p, d unsafe.Pointer) {
	switch kind {
	case addFloat64:
		for {
			old := atomic.LoadUint64((*uint64)(p))
			nv := math.Float64frombits(old) + *(*float64)(d)
			if atomic.CompareAndSwapUint64((*uint64)(p), old, math.Float64bits(nv)) {
				*(*float64)(d) = nv
				return
			}
		}
	case addFloat32:
		for {
			old := atomic.LoadUint32((*uint32)(p))
			nv := math.Float32frombits(old) + *(*float32)(d)
			if atomic.CompareAndSwapUint32((*uint32)(p), old, math.Float32bits(nv)) {
				*(*float32)(d) = nv
				return
			}
		}
	case 1, 2:
		size := uintptr(kind)
		w, shift, mask := lane(p, size)
		var delta uint32
		if size == 1 {
			delta = uint32(*(*uint8)(d))
		} else {
			delta = uint32(*(*uint16)(d))
		}
		for {
			old := atomic.LoadUint32(w)
			nv := ((old&mask)>>shift + delta) << shift & mask
			if atomic.CompareAndSwapUint32(w, old, old&^mask|nv) {
				if size == 1 {
					*(*uint8)(d) = uint8(nv >> shift)
				} else {
					*(*uint16)(d) = uint16(nv >> shift)
				}
				return
			}
		}
	}
	panic("shm: Add on an unknown element kind")
}

// Element kinds of object.xadd besides the integer widths.
const (
	addFloat32 = 'f'
	addFloat64 = 'd'
)
