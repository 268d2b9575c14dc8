package shm_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/shm"
)

// A Value shared by every process that receives it (through
// procshare.Process); here, one process and its goroutines.
func ExampleValue() {
	v, err := shm.NewValue[float64](1.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	v.Add(2)
	fmt.Println(v.Load(), string(v.Typecode()))
	// Output: 3.5 d
}

// A compound update under the Value's process-shared lock, as Python's
// `with v.get_lock(): v.value = v.value * 2 + 1`.
func ExampleValue_Do() {
	v, _ := shm.NewValue[int64](20)
	defer v.Close()
	err := v.Do(context.Background(), func() error {
		v.StoreRaw(v.LoadRaw()*2 + 1)
		return nil
	})
	fmt.Println(v.Load(), err)
	// Output: 41 <nil>
}

func ExampleArray() {
	a, _ := shm.NewArrayFrom([]int32{1, 2, 3, 4})
	defer a.Close()
	a.Add(0, 10)
	a.Slice()[3] = 40 // plain write through the shared mapping
	out := make([]int32, a.Len())
	a.CopyTo(out)
	fmt.Println(out, string(a.Typecode()))
	// Output: [11 2 3 40] i
}

// Two objects laid out in one named segment, which other processes map by
// name with shm.Open and the same offsets.
func ExampleArrayAt() {
	name := fmt.Sprintf("example_layout_%d", os.Getpid())
	seg, err := shm.Create(name, shm.ValueSize+shm.ArraySize[float64](3))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer seg.Unlink()
	defer seg.Close()
	count, _ := shm.ValueAt[int64](seg, 0)
	data, _ := shm.ArrayAt[float64](seg, shm.ValueSize, 3)
	data.Store(1, 2.5)
	count.Add(1)

	// Elsewhere (another process, in real use):
	other, _ := shm.Open(name)
	defer other.Close()
	d2, err := shm.ArrayAt[float64](other, shm.ValueSize, -1)
	fmt.Println(d2.Len(), d2.Load(1), err)
	_, err = shm.ArrayAt[int32](other, shm.ValueSize, -1)
	fmt.Println(err != nil)
	// Output:
	// 3 2.5 <nil>
	// true
}

// A ShareableList that Python opens with
// multiprocessing.shared_memory.ShareableList(name=...).
func ExampleNewShareableList() {
	name := fmt.Sprintf("example_list_%d", os.Getpid())
	l, err := shm.NewShareableList(name, []any{42, 3.5, true, "hello", []byte("raw"), nil})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Unlink()
	defer l.Close()
	l.Set(0, "py")
	fmt.Println(l.Set(3, "a string longer than its slot") != nil)
	items, _ := l.Items()
	f, _ := l.Format()
	fmt.Println(items...)
	fmt.Println(f)
	// Output:
	// true
	// py 3.5 true hello [114 97 119] <nil>
	// 8sdxxxxxxx?8s8sxxxxxx?x
}

func ExampleOpen() {
	_, err := shm.Open("no-such-segment-example")
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	_, err = shm.Open("a/b")
	fmt.Println(err)
	// Output:
	// true
	// shm: invalid segment name "a/b": contains '/'

}

// A child process reports through an Event (Python's mp.Event()) and
// writes under a Lock shared by two Values (Python's lock=).
var reporter = procshare.Register("shm_test.reporter", func(ctx context.Context, ready *shm.Event, sum, count *shm.Value[int64]) error {
	err := sum.Do(ctx, func() error { // the lock sum and count share
		sum.StoreRaw(sum.LoadRaw() + 42)
		count.StoreRaw(count.LoadRaw() + 1)
		return nil
	})
	ready.Set()
	return err
})

func ExampleNewEvent() {
	ctx := context.Background()
	ready, _ := shm.NewEvent()
	defer ready.Close()
	lock, _ := shm.NewLock()
	defer lock.Close()
	sum, _ := shm.NewValue[int64](0, shm.WithLock(lock))
	defer sum.Close()
	count, _ := shm.NewValue[int64](0, shm.WithLock(lock))
	defer count.Close()

	p, err := procshare.Start(reporter, ready, sum, count)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := ready.Wait(ctx); err != nil {
		fmt.Println(err)
		return
	}
	lock.Do(ctx, func() error {
		fmt.Println(sum.LoadRaw(), count.LoadRaw())
		return nil
	})
	fmt.Println(p.Join(ctx))
	// Output:
	// 42 1
	// <nil>
}
