package manager

import (
	"math"
	"sync/atomic"

	"github.com/procshare/procshare/pickle"
)

// This file keeps the server's memory budget (ServerConfig.MaxMemory): what
// objects store, and what a call allocates for its result and its reply,
// is charged before it is allocated, so that a small request cannot make the
// server allocate without bound (l.extend(range(2**24)), l * 10**6, a huge
// repr, many slow readers of a large item). A call that would pass the
// budget raises MemoryError and changes nothing.
//
// Sizes are estimates of the Go heap (pickle.SizeOf and the costs below),
// not measurements: the budget bounds the memory the server's data uses, up
// to the estimates' error, Go's allocation slack and the garbage collector's
// headroom, which cmd/procshare bounds by setting the runtime's memory limit
// from the budget.

// DefaultMaxMemory is the memory budget of a server whose
// ServerConfig.MaxMemory is zero: 1 GiB.
const DefaultMaxMemory = 1 << 30

// Costs charged for what the server allocates, in bytes (64-bit platforms).
const (
	costSlot  = 16 // one element of a slice of values (an interface)
	costItem  = 24 // one element expanded from a range, or an array item: a slot and a boxed int or float
	costRune  = 48 // one element expanded from a str: a slot and a one-character str
	costEntry = 64 // one dict entry with its share of the index
	costReply = 64 // a reply's frame header and pickle framing, beyond pickle.SizeOf
)

// smallReply is the largest reply encoded without being charged: the
// connection's encoding buffer keeps up to this much between calls, and
// what the wire package buffers per connection is of the same order.
const smallReply = 64 << 10

var excMemoryError = pickle.Global{Module: "builtins", Name: "MemoryError"}

// memBudget is the server's budget. It is safe for concurrent use: used is
// changed with one atomic add per charge.
type memBudget struct {
	limit int64 // bytes; 0 means unlimited
	used  atomic.Int64
}

// init sets the limit from ServerConfig.MaxMemory.
func (b *memBudget) init(maxMemory int64) {
	switch {
	case maxMemory == 0:
		b.limit = DefaultMaxMemory
	case maxMemory > 0:
		b.limit = maxMemory
	}
}

// take charges n bytes, or returns the MemoryError a call gets when n does
// not fit.
func (b *memBudget) take(n int64) error {
	if b.limit == 0 || n <= 0 {
		return nil
	}
	if n > b.limit {
		return b.memoryError(b.used.Load() + n)
	}
	if u := b.used.Add(n); u > b.limit {
		b.used.Add(-n)
		return b.memoryError(u)
	}
	return nil
}

// give returns n bytes charged with take.
func (b *memBudget) give(n int64) {
	if b.limit != 0 && n != 0 {
		b.used.Add(-n)
	}
}

// available is how many bytes may still be taken now (math.MaxInt64 when
// unlimited).
func (b *memBudget) available() int64 {
	if b.limit == 0 {
		return math.MaxInt64
	}
	return max(b.limit-b.used.Load(), 0)
}

func (b *memBudget) memoryError(total int64) *pyExc {
	return excf(excMemoryError, "procshare: call would use %d bytes past the server's memory budget of %d bytes (--max-memory)", total-b.limit, b.limit)
}

// memScope is what one call has charged for memory it holds only until its
// reply is written (its result, the reply's encoding, an expanded range).
// It belongs to one connection, which runs one call at a time.
type memScope struct {
	b *memBudget
	n int64
}

// take charges n bytes to the call, or returns MemoryError.
func (m *memScope) take(n int64) error {
	if err := m.b.take(n); err != nil {
		return err
	}
	m.n += n
	return nil
}

// give returns n of the bytes the call took (an estimate that was too high).
func (m *memScope) give(n int64) {
	n = min(n, m.n)
	m.b.give(n)
	m.n -= n
}

// done returns everything the call took: its reply has been written.
func (m *memScope) done() {
	if m.n != 0 {
		m.b.give(m.n)
		m.n = 0
	}
}

// mem is the scope of memory the call holds until its reply is written.
func (c *srvCall) mem() *memScope { return &c.conn.mem }

// take charges n bytes to the call (see memScope.take).
func (c *srvCall) take(n int64) error { return c.conn.mem.take(n) }

func isMemoryError(err error) bool {
	e, ok := err.(*pyExc)
	return ok && e.class == excMemoryError
}

// memStored is the memory charged for what one object stores: the sum of
// the costs of its values, which are immutable once stored, so that what
// is subtracted when one goes is what was added when it came. It is
// guarded by the object's mutex.
type memStored struct {
	b     *memBudget
	n     int64
	freed bool // the object is freed: calls still running on it charge nothing
}

// add charges n more bytes to the object, or returns MemoryError (and the
// object must then change nothing).
func (m *memStored) add(n int64) error {
	if m.freed {
		return nil
	}
	if err := m.b.take(n); err != nil {
		return err
	}
	m.n += n
	return nil
}

// force charges n bytes even past the budget: for compensations that put
// back what a call took (a queue item whose reply was lost).
func (m *memStored) force(n int64) {
	if !m.freed {
		m.b.give(-n)
		m.n += n
	}
}

// sub returns n bytes the object no longer stores.
func (m *memStored) sub(n int64) {
	if !m.freed {
		m.b.give(n)
		m.n -= n
	}
}

// change charges the difference when values costing old are replaced by
// values costing new, or returns MemoryError.
func (m *memStored) change(old, new int64) error {
	if new > old {
		return m.add(new - old)
	}
	m.sub(old - new)
	return nil
}

// release returns everything: the object is freed.
func (m *memStored) release() {
	if !m.freed {
		m.b.give(m.n)
		m.n = 0
		m.freed = true
	}
}

// srvSized is implemented by objects whose stored values are charged to
// the budget; the table calls releaseMemory when it frees them.
type srvSized interface {
	releaseMemory()
}

// itemCost is what storing v as one element of a list, queue or value costs.
func itemCost(v pickle.Value) int64 { return costSlot + pickle.SizeOf(v) }

// itemsCost is itemCost summed over vs.
func itemsCost(vs []pickle.Value) int64 {
	n := int64(0)
	for _, v := range vs {
		n += itemCost(v)
	}
	return n
}

// entryCost is what storing the dict entry k: v costs.
func entryCost(k, v pickle.Value) int64 {
	return costEntry + pickle.SizeOf(k) + pickle.SizeOf(v)
}

// mulCost is a*b saturated, for sizes computed from client numbers.
func mulCost(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// iterCost is what iterValues allocates to expand v (a list or tuple is
// returned as it is; a str, bytes, set, dict or range is expanded), checked
// before the expansion.
func iterCost(v pickle.Value) int64 {
	switch x := v.(type) {
	case string:
		return mulCost(int64(len(x)), costRune)
	case []byte:
		return mulCost(int64(len(x)), costSlot)
	case *pickle.ByteArray:
		return mulCost(int64(len(x.Data)), costSlot)
	case *pickle.Set:
		return mulCost(int64(x.Len()), costSlot)
	case *pickle.FrozenSet:
		return mulCost(int64(x.Len()), costSlot)
	case *pickle.Dict:
		return mulCost(int64(x.Len()), costSlot)
	case pickle.Range:
		if n, _, _, err := rangeLen(x); err == nil {
			return mulCost(n, costItem)
		}
	}
	return 0
}
