package procshare

// SetPdeathsig turns Linux's parent-death signal for daemon children off or
// on, so that tests exercise the portable pipe watch alone.
func SetPdeathsig(on bool) { usePdeathsig = on }

// ForgetMain makes the package believe Main was not called, until the
// returned function is called.
func ForgetMain() (restore func()) {
	mainCalled.Store(false)
	return func() { mainCalled.Store(true) }
}

// SetParentWatch turns a daemon child's watch of its control pipe off or on,
// so that tests exercise the parent-death signal alone.
func SetParentWatch(on bool) { useParentWatch = on }
