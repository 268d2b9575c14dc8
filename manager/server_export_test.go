package manager

import (
	"time"

	"github.com/procshare/procshare/pickle"
)

// SetLingerDelayForTest changes how long unreferenced nested objects
// linger, and returns a function restoring it.
func SetLingerDelayForTest(d time.Duration) (restore func()) {
	old := lingerDelay
	lingerDelay = d
	return func() { lingerDelay = old }
}

// objPanic is a test-only type whose methods panic, to check that a panic
// in a handler becomes a '#TRACEBACK' for that request only.
type objPanic struct{}

func (objPanic) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	if m == "boom" {
		var l []int
		_ = l[len(args)+3] // index out of range
	}
	return nil, errNoMethod
}

func (objPanic) repr() string                    { panic("repr panics too") }
func (objPanic) getvalue() (pickle.Value, error) { return nil, nil }

func init() {
	registerType(&srvType{name: "psTestPanic", pyClass: "psTestPanic", exposed: []string{"boom"},
		create: func(*Server, *memScope, pickle.Tuple, *pickle.Dict) (srvObj, error) { return objPanic{}, nil }})
}

// DedicatedThreadsForTest returns how many connections have a dedicated
// thread now.
func (s *Server) DedicatedThreadsForTest() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.threads
}

// ConnsForTest returns how many connections the server has not finished.
func (s *Server) ConnsForTest() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// SetGrantHookForTest makes the client call f with every grant a
// confirming connection receives, just before it confirms it (ps_ack).
func SetGrantHookForTest(f func(v pickle.Value)) { testHookGrant = f }
